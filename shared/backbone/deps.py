"""FastAPI dependencies every gateway shares, as Annotated aliases: a route names what it needs.

A service's own `api/deps.py` re-exports these and adds its settings type and its own parts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.auth import Principal, decode_token
from backbone.runtime import ServiceRuntime


def get_runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime  # type: ignore[no-any-return]


async def get_session(runtime: Annotated[ServiceRuntime, Depends(get_runtime)]) -> AsyncIterator[AsyncSession]:
    async with runtime.session_factory() as session:
        yield session


def get_principal(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    settings = request.app.state.settings
    return decode_token(authorization, secret=settings.jwt_secret, issuer=settings.jwt_issuer)


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
