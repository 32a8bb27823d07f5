"""The hub's routes, one router per hub a service offers (`hub_router(HubApi(...))`):

- `POST {base}/hub` (TMF registerListener): `{callback, query?}` → 201, `Location`, `EventSubscription`
  `{id, callback, query}`, plus `secret` (this once; the extension field `secret` in the request sets it,
  else the hub makes one): the key of the callbacks' HMAC signature (backbone.hub.signing);
- `GET {base}/hub/{id}`, `DELETE {base}/hub/{id}` (TMF unregisterListener, 204);
- extensions: `GET {base}/hub/{id}/delivery` (offset/limit, `X-Total-Count`/`X-Result-Count`, `status=`)
  and `POST {base}/hub/{id}/delivery/{deliveryId}/redeliver`.

Who may: admin and supervisor (an integration's token carries one of them): a subscription sees every
event of its API, which no account manager's scope allows.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from backbone.auth import Principal
from backbone.authz import authorize
from backbone.deps import SessionDep
from backbone.hub import service
from backbone.hub.service import HubApi
from backbone.hub.settings import HubSettings
from backbone.hub.ssrf import CallbackRefused
from backbone.tmf import ERROR_REFERENCE, TmfResponse
from backbone.vocabulary import TokenRole

HubAdminDep = Annotated[Principal, authorize(TokenRole.ADMIN, TokenRole.SUPERVISOR)]
SubscriptionId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_]+$")]


class EventSubscriptionInput(BaseModel):
    """TMF EventSubscriptionInput (+ the optional `secret` extension). Other members are ignored."""

    model_config = ConfigDict(extra="ignore")
    callback: str = Field(min_length=1, max_length=2000, description="the listener's URL (http or https)")
    query: str | None = Field(default=None, max_length=2000,
                              description="eventType=a,b and attribute filters joined by &")
    secret: str | None = Field(default=None, min_length=16, max_length=200,
                               description="extension: the HMAC key of the callbacks' signature (default: made)")


def _subscription(row: Any, base: str, secret: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row.id, "href": f"{base}/hub/{row.id}", "callback": row.callback}
    if row.query:
        out["query"] = row.query
    if row.state != "active":
        out["state"] = row.state
    if secret is not None:
        out["secret"] = secret
    out["@type"] = "EventSubscription"
    return out


def _delivery(row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(row.id), "eventId": str(row.event_id), "eventType": row.event_type, "entityId": row.entity_id,
        "status": row.status, "attempts": row.attempts, "createdAt": row.created_at.isoformat(),
        "queuedAt": row.queued_at.isoformat(),
    }
    if row.status == "pending":
        out["nextAttemptAt"] = row.next_attempt_at.isoformat()
    if row.finished_at is not None:
        out["finishedAt"] = row.finished_at.isoformat()
    if row.last_status is not None:
        out["lastStatus"] = row.last_status
    if row.last_error:
        out["lastError"] = row.last_error
    return out


def refused(exc: CallbackRefused) -> JSONResponse:
    """The SSRF refusal is a 422 TMF Error naming `callback` (issue 11 asks for 422: the URL is well-formed,
    the hub will not call it), where other bad input on /tmf-api is a 400 (backbone.tmf)."""
    return TmfResponse({"code": exc.code, "reason": "Callback refused", "status": "422",
                        "message": f"callback: {exc.message}", "referenceError": ERROR_REFERENCE + exc.code,
                        "@type": "Error"}, status_code=422)


def _settings(request: Request) -> HubSettings:
    settings = request.app.state.runtime.settings
    if not isinstance(settings, HubSettings):
        raise TypeError(f"{type(settings).__name__} does not mix in HubSettings")
    return settings


def hub_router(hub: HubApi, *, tag: str = "TMF hub") -> APIRouter:
    router = APIRouter(tags=[tag])
    base = hub.base

    @router.post(f"{base}/hub", status_code=201, summary="TMF: register a listener (hub)",
                 responses={422: {"description": "callback refused (SSRF guard): a TMF Error naming callback"}})
    async def register_listener(body: EventSubscriptionInput, request: Request, session: SessionDep,
                                principal: HubAdminDep) -> JSONResponse:
        try:
            async with session.begin():
                row, secret = await service.register(session, hub, _settings(request).hub_policy,
                                                     callback=body.callback, query=body.query, secret=body.secret,
                                                     actor=principal.subject)
        except CallbackRefused as exc:
            return refused(exc)
        return TmfResponse(_subscription(row, base, secret), status_code=201,
                           headers={"Location": f"{base}/hub/{row.id}"})

    @router.get(f"{base}/hub/{{id}}", summary="A registered listener (hub)")
    async def get_listener(id: SubscriptionId, session: SessionDep, principal: HubAdminDep) -> JSONResponse:
        return TmfResponse(_subscription(await service.subscription(session, hub, id), base))

    @router.delete(f"{base}/hub/{{id}}", status_code=204, summary="TMF: unregister a listener (hub)")
    async def unregister_listener(id: SubscriptionId, session: SessionDep, principal: HubAdminDep) -> Response:
        async with session.begin():
            await service.unregister(session, hub, id)
        return Response(status_code=204)

    @router.get(f"{base}/hub/{{id}}/delivery", summary="Extension: a listener's deliveries, oldest first")
    async def list_deliveries(id: SubscriptionId, session: SessionDep, principal: HubAdminDep,
                              offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
                              limit: Annotated[int, Query(ge=1, le=200)] = 50,
                              status: Annotated[str | None, Query(max_length=20)] = None) -> JSONResponse:
        rows, total = await service.deliveries(session, hub, id, offset=offset, limit=limit, status=status)
        return TmfResponse([_delivery(r) for r in rows],
                            headers={"X-Total-Count": str(total), "X-Result-Count": str(len(rows))})

    @router.post(f"{base}/hub/{{id}}/delivery/{{deliveryId}}/redeliver",
                 summary="Extension: deliver an event again (same eventId and body, due now)")
    async def redeliver(id: SubscriptionId, deliveryId: Annotated[int, Path(ge=1, le=2**62)],
                        session: SessionDep, principal: HubAdminDep) -> JSONResponse:
        async with session.begin():
            row = await service.redeliver(session, hub, id, deliveryId)
        return TmfResponse(_delivery(row), status_code=202)

    return router
