"""POST /api/v1/eoms/callbacks: the external EOMS reports progress (adapter mode).

Each callback becomes the same domain action a REST caller would take. `callback_id` is the
idempotency key (recorded in the transaction of the effect): a redelivered callback is a no-op.

Authentication (docs/security.md, item 3): no bearer token, a signature. Each partner (an external
EOMS) has its own secret (`EOMS_CALLBACK_PARTNERS`) and signs the timestamp and the body with
HMAC-SHA256 (`X-EOMS-Partner`, `X-EOMS-Timestamp`, `X-EOMS-Signature`: `eoms_bridge/adapter/signing.py`).
A timestamp outside the window, a wrong signature, an unknown partner or a signature already accepted
(a replay) is 401, before the body is validated (only a body that is no JSON at all is refused first,
422, by the JSON parser). The actor is derived from the partner
(`eoms:<partner>`, working the current node's role), never from the body: `actor_id` is recorded as
the operator the EOMS reports (informational), and `actor_roles` is refused. A partner acts only on the
tickets forwarded to its EOMS (`tickets.eoms_partner`) and on the nodes assigned to it (`tickets.partner`):
any other ticket answers 404.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, Field
from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert

from backbone.authz import signed
from backbone.db import db_now
from backbone.problems import Problem
from backbone.vocabulary import NodeRole
from eoms_bridge.adapter.signing import SignatureError, SignedRequest, verify
from eoms_bridge.api.deps import ContextDep, SessionDep, StoreDep
from eoms_bridge.domain.errors import TicketNotFoundError
from eoms_bridge.domain.ticket import Actor, TicketAction
from eoms_bridge.models import eoms_callback_signatures, eoms_callbacks, tickets
from eoms_bridge.services import tickets as ticket_service

log = logging.getLogger("eoms_bridge.callbacks")
router = APIRouter(prefix="/api/v1/eoms", tags=["eoms adapter"])

SYSTEM_ACTIONS = {TicketAction.CANCEL, TicketAction.CLOSE, TicketAction.HOLD, TicketAction.RELEASE}
#: Signatures purged per callback (the replay store stays small without a worker of its own).
PURGE_BATCH = 200


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": 'HMAC-SHA256 realm="eoms-callbacks"'})


async def signed_partner(
    request: Request, context: ContextDep,
    x_eoms_partner: Annotated[str | None, Header()] = None,
    x_eoms_timestamp: Annotated[str | None, Header()] = None,
    x_eoms_signature: Annotated[str | None, Header()] = None,
) -> SignedRequest:
    """The partner whose secret signed this request's timestamp and body (401 otherwise: the headers' shapes
    are checked by `verify`, so a malformed one is a 401 too, never a 422 that tells what is expected)."""
    settings = context.settings
    try:
        return verify(settings.callback_secrets(), partner=x_eoms_partner, timestamp=x_eoms_timestamp,
                      signed=x_eoms_signature, body=await request.body(), now=time.time(),
                      window_s=settings.eoms_callback_window_s)
    except SignatureError as exc:
        raise _unauthorized(f"unsigned or wrongly signed callback: {exc}") from None


SignedPartner = Annotated[SignedRequest, signed(
    "HMAC-SHA256 per partner over X-EOMS-Timestamp and the body (X-EOMS-Partner, X-EOMS-Signature); "
    "replay window EOMS_CALLBACK_WINDOW_S", signed_partner)]


class CallbackIn(BaseModel):
    callback_id: str = Field(min_length=1, max_length=120)
    ticket_id: str = Field(min_length=1, max_length=120, description="our ticket id, or the EOMS's own reference")
    action: TicketAction
    actor_id: str | None = Field(default=None, max_length=60, description=(
        "informational: the EOMS operator who acted, recorded with the callback; the actor is the signing "
        "partner (eoms:<partner>)"))
    actor_roles: list[NodeRole] | None = Field(default=None, description=(
        "refused (422) when given: the partner works the current node's role, whatever the body says"))
    outcome: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    reason: str | None = None
    to: str | None = None


class CallbackOut(BaseModel):
    status: str  # "applied" | "duplicate"
    ticket_id: str
    state: str | None = None
    node: str | None = None
    version: int | None = None
    actor: str | None = Field(default=None, description="who acted: the signing partner (eoms:<partner>)")


@router.post("/callbacks", response_model=CallbackOut, summary="Progress reported by the external EOMS (signed)")
async def eoms_callback(
    body: CallbackIn, partner: SignedPartner, session: SessionDep, store: StoreDep, context: ContextDep,
) -> CallbackOut:
    if body.actor_roles is not None:
        raise Problem(422, "Invalid request", "actor_roles: the roles come from the partner's credential",
                      errors=[{"field": "actor_roles", "message": "not accepted: the partner works the node's role"}])
    data = dict(body.data)
    if body.reason and "reason" not in data:
        data["reason"] = body.reason
    window = timedelta(seconds=context.settings.eoms_callback_window_s)
    async with session.begin():
        seen = eoms_callback_signatures.c
        fresh = (await session.execute(
            insert(eoms_callback_signatures).values(signature=partner.signature, partner=partner.partner)
            .on_conflict_do_nothing().returning(seen.signature))).first()
        if fresh is None:
            raise _unauthorized("unsigned or wrongly signed callback: this signature was already used (replay)")
        old = select(seen.signature).where(seen.seen_at < func.now() - 2 * window).limit(PURGE_BATCH)
        await session.execute(delete(eoms_callback_signatures).where(seen.signature.in_(old.scalar_subquery())))
        # Partner X acts only on the tickets forwarded to its EOMS and on the nodes assigned to it; any
        # other ticket is not found (its existence is not disclosed).
        row = (await session.execute(select(tickets.c.id, tickets.c.current_role).where(
            or_(tickets.c.id == body.ticket_id, tickets.c.external_ref == body.ticket_id),
            or_(tickets.c.eoms_partner == partner.partner, tickets.c.partner == partner.partner)))).first()
        if row is None:
            raise TicketNotFoundError(f"ticket {body.ticket_id} not found")
        node_roles = [NodeRole(row.current_role)] if row.current_role else []
        if body.action in SYSTEM_ACTIONS:
            actor = Actor.system(partner.actor_id)
        else:
            # The partner's EOMS decides who of its people works the node; here it acts as itself.
            actor = Actor.person(partner.actor_id, *node_roles)
        to = Actor.person(body.to, *node_roles) if body.to else None
        first = (await session.execute(
            insert(eoms_callbacks).values(callback_id=body.callback_id, ticket_id=row.id, action=body.action.value,
                                          partner=partner.partner, reported_actor=body.actor_id)
            .on_conflict_do_nothing().returning(eoms_callbacks.c.callback_id))).first()
        if first is None:
            return CallbackOut(status="duplicate", ticket_id=row.id, actor=partner.actor_id)
        out = await ticket_service.act(
            session, store=store, ticket_id=row.id, action=body.action, actor=actor, now=await db_now(session),
            outcome=body.outcome, data=data, reason=body.reason, to=to, forward=context.forwarding,
            org=context.organisation, eoms_partner=context.eoms_partner)
    log.info("callback %s from partner %s applied to %s", body.callback_id, partner.partner, row.id)
    return CallbackOut(status="applied", ticket_id=row.id, state=out["state"], node=out["current_node"],
                       version=out["version"], actor=partner.actor_id)
