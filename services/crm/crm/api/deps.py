"""FastAPI dependencies as Annotated aliases: a route names what it needs, nothing more."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from backbone.auth import Principal as Principal
from backbone.deps import PrincipalDep as PrincipalDep
from backbone.deps import RuntimeDep as RuntimeDep
from backbone.deps import SessionDep as SessionDep
from backbone.deps import get_principal as get_principal
from backbone.deps import get_runtime as get_runtime
from backbone.deps import get_session as get_session
from backbone.problems import Problem
from crm.idempotency import HEADER, MAX_KEY_LENGTH, Idempotency, request_fingerprint
from crm.models import idempotency_keys
from crm.settings import CrmSettings


def get_settings(request: Request) -> CrmSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


SettingsDep = Annotated[CrmSettings, Depends(get_settings)]


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
    return Idempotency(
        table=idempotency_keys,
        key=key,
        principal=principal.subject,
        fingerprint=request_fingerprint(request.method, request.url.path, body),
    )


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]
