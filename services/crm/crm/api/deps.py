"""FastAPI dependencies as Annotated aliases: a route names what it needs, nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.auth import Principal, decode_token
from backbone.problems import Problem
from backbone.runtime import ServiceRuntime
from crm.idempotency import HEADER, MAX_KEY_LENGTH, Idempotency, request_fingerprint
from crm.models import idempotency_keys
from crm.settings import CrmSettings


def get_runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def get_settings(request: Request) -> CrmSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_session(runtime: Annotated[ServiceRuntime, Depends(get_runtime)]) -> AsyncIterator[AsyncSession]:
    async with runtime.session_factory() as session:
        yield session


def get_principal(
    settings: Annotated[CrmSettings, Depends(get_settings)],
    authorization: Annotated[str | None, Header()] = None,
) -> Principal:
    return decode_token(authorization, secret=settings.jwt_secret, issuer=settings.jwt_issuer)


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]
SettingsDep = Annotated[CrmSettings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_idempotency(
    request: Request,
    principal: PrincipalDep,
    idempotency_key: Annotated[
        str | None,
        Header(alias=HEADER, description="Repeat a POST safely: same key and same body → the first reply"),
    ] = None,
) -> Idempotency:
    key = idempotency_key.strip() if idempotency_key is not None else None
    if key is not None and not 1 <= len(key) <= MAX_KEY_LENGTH:
        message = f"must have 1 to {MAX_KEY_LENGTH} characters"
        raise Problem(422, "Invalid request", f"{HEADER} {message}", errors=[{"field": HEADER, "message": message}])
    body = await request.body()
    return Idempotency(table=idempotency_keys, key=key, principal=principal.subject,
                       fingerprint=request_fingerprint(request.method, request.url.path, body))


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]
