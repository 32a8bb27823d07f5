"""FastAPI dependencies as Annotated aliases: a route names what it needs, nothing more."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backbone.deps import PrincipalDep as PrincipalDep
from backbone.deps import RuntimeDep as RuntimeDep
from backbone.deps import SessionDep as SessionDep
from backbone.deps import get_principal as get_principal
from backbone.deps import get_runtime as get_runtime
from backbone.deps import get_session as get_session
from backbone.runtime import ServiceRuntime
from notify.domain.templates import TemplateStore
from notify.services.directory import DirectoryCache
from notify.settings import NotifySettings


def get_settings(request: Request) -> NotifySettings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_directory(runtime: Annotated[ServiceRuntime, Depends(get_runtime)]) -> DirectoryCache:
    return runtime.directory  # type: ignore[attr-defined, no-any-return]


def get_templates(runtime: Annotated[ServiceRuntime, Depends(get_runtime)]) -> TemplateStore:
    return runtime.templates  # type: ignore[attr-defined, no-any-return]


SettingsDep = Annotated[NotifySettings, Depends(get_settings)]
DirectoryDep = Annotated[DirectoryCache, Depends(get_directory)]
TemplatesDep = Annotated[TemplateStore, Depends(get_templates)]
