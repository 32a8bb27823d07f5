"""FastAPI dependencies as Annotated aliases (as in crm.api.deps): a route names what it needs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.auth import Principal, decode_token, require
from backbone.runtime import ServiceRuntime
from sla.settings import SlaSettings

# Who may read timers, reports and the live feed; who may load and activate policies.
READERS = ("supervisor", "admin", "network_staff")
ADMINS = ("admin",)


def get_runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def get_settings(request: Request) -> SlaSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_session(runtime: Annotated[ServiceRuntime, Depends(get_runtime)]) -> AsyncIterator[AsyncSession]:
    async with runtime.session_factory() as session:
        yield session


def get_principal(
    settings: Annotated[SlaSettings, Depends(get_settings)],
    authorization: Annotated[str | None, Header()] = None,
) -> Principal:
    return decode_token(authorization, secret=settings.jwt_secret, issuer=settings.jwt_issuer)


def get_reader(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    return require(principal, *READERS)


def get_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    return require(principal, *ADMINS)


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]
SettingsDep = Annotated[SlaSettings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
ReaderDep = Annotated[Principal, Depends(get_reader)]
AdminDep = Annotated[Principal, Depends(get_admin)]
