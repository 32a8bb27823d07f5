"""FastAPI dependencies every gateway shares, as Annotated aliases: a route names what it needs.

A service's own `api/deps.py` re-exports these and adds its settings type and its own parts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.auth import Principal, TokenVerifier
from backbone.runtime import ServiceRuntime

C = TypeVar("C")


# The dependencies below are `async def` though they never await: FastAPI runs a plain `def`
# dependency in its thread pool, a thread hop per request and dependency (about 8 % of the CRM's CPU
# per order in the issue 16 profile, docs/benchmarks.md).
async def get_runtime(request: Request) -> ServiceRuntime[Any]:
    return request.app.state.runtime  # type: ignore[no-any-return]


def context_of(context_type: type[C]) -> Callable[[Request], Awaitable[C]]:
    """A dependency giving the service's typed context (what its bootstrap built):
    `ContextDep = Annotated[CrmContext, Depends(context_of(CrmContext))]`."""

    async def get_context(request: Request) -> C:
        context = request.app.state.runtime.context
        if not isinstance(context, context_type):
            raise TypeError(f"the runtime's context is a {type(context).__name__}, not a {context_type.__name__}")
        return context

    return get_context


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    # The runtime straight from the app, not by `get_runtime`: each dependency FastAPI resolves is a level of
    # its machinery per request (~1 % of the CRM's CPU per order, issue 16), and every session route has this one.
    runtime: ServiceRuntime[Any] = request.app.state.runtime
    async with runtime.session_factory() as session:
        yield session


def token_verifier(request: Request) -> TokenVerifier:
    """The app's verifier (`backbone.api.create_service_app` builds it from the settings)."""
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        verifier = request.app.state.token_verifier = TokenVerifier.from_settings(request.app.state.settings)
    return verifier


async def get_principal(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    return await token_verifier(request).principal(authorization)


RuntimeDep = Annotated[ServiceRuntime[Any], Depends(get_runtime)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
