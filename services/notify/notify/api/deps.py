"""FastAPI dependencies as Annotated aliases: a route names what it needs, nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.auth import Principal, decode_token
from backbone.runtime import ServiceRuntime
from notify.domain.templates import TemplateStore
from notify.services.directory import DirectoryCache
from notify.settings import NotifySettings


def get_runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def get_settings(request: Request) -> NotifySettings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_directory(runtime: Annotated[ServiceRuntime, Depends(get_runtime)]) -> DirectoryCache:
    return runtime.directory  # type: ignore[attr-defined, no-any-return]


def get_templates(runtime: Annotated[ServiceRuntime, Depends(get_runtime)]) -> TemplateStore:
    return runtime.templates  # type: ignore[attr-defined, no-any-return]


async def get_session(runtime: Annotated[ServiceRuntime, Depends(get_runtime)]) -> AsyncIterator[AsyncSession]:
    async with runtime.session_factory() as session:
        yield session


def get_principal(
    settings: Annotated[NotifySettings, Depends(get_settings)],
    authorization: Annotated[str | None, Header()] = None,
) -> Principal:
    return decode_token(authorization, secret=settings.jwt_secret, issuer=settings.jwt_issuer)


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]
SettingsDep = Annotated[NotifySettings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
DirectoryDep = Annotated[DirectoryCache, Depends(get_directory)]
TemplatesDep = Annotated[TemplateStore, Depends(get_templates)]
