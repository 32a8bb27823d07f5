"""POST /api/v1/eoms/callbacks: the external EOMS reports progress (adapter mode).

Each callback becomes the same domain action a REST caller would take. `callback_id` is the
idempotency key (recorded in the transaction of the effect): a redelivered callback is a no-op.
The EOMS authenticates with the shared secret in `X-EOMS-Token`.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header
from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert

from backbone.problems import Problem
from backbone.vocabulary import NodeRole
from eoms_bridge.api.deps import ContextDep, SessionDep, StoreDep
from eoms_bridge.domain.errors import TicketNotFoundError
from eoms_bridge.domain.ticket import Actor, TicketAction
from eoms_bridge.models import eoms_callbacks, tickets
from eoms_bridge.services import tickets as ticket_service

router = APIRouter(prefix="/api/v1/eoms", tags=["eoms adapter"])

SYSTEM_ACTIONS = {TicketAction.CANCEL, TicketAction.CLOSE, TicketAction.HOLD, TicketAction.RELEASE}


class CallbackIn(BaseModel):
    callback_id: str = Field(min_length=1, max_length=120)
    ticket_id: str = Field(min_length=1, max_length=120, description="our ticket id, or the EOMS's own reference")
    action: TicketAction
    actor_id: str = Field(default="eoms", max_length=60)
    actor_roles: list[NodeRole] | None = Field(default=None, description="default: the current node's role")
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


@router.post("/callbacks", response_model=CallbackOut, summary="Progress reported by the external EOMS")
async def eoms_callback(
    body: CallbackIn, session: SessionDep, store: StoreDep, context: ContextDep,
    x_eoms_token: Annotated[str | None, Header()] = None,
) -> CallbackOut:
    if not x_eoms_token or not hmac.compare_digest(x_eoms_token, context.settings.eoms_callback_token):
        raise Problem(401, "Unauthorized", "missing or wrong X-EOMS-Token")
    data = dict(body.data)
    if body.reason and "reason" not in data:
        data["reason"] = body.reason
    async with session.begin():
        row = (await session.execute(select(tickets.c.id, tickets.c.current_role).where(
            or_(tickets.c.id == body.ticket_id, tickets.c.external_ref == body.ticket_id)))).first()
        if row is None:
            raise TicketNotFoundError(f"ticket {body.ticket_id} not found")
        node_roles = [NodeRole(row.current_role)] if row.current_role else []
        if body.action in SYSTEM_ACTIONS:
            actor = Actor.system("eoms")
        else:
            # The EOMS has already checked who may work the node; its word is taken for the role.
            actor = Actor.person(body.actor_id, *(body.actor_roles or node_roles))
        to = Actor.person(body.to, *node_roles) if body.to else None
        first = (await session.execute(
            insert(eoms_callbacks).values(callback_id=body.callback_id, ticket_id=row.id, action=body.action.value)
            .on_conflict_do_nothing().returning(eoms_callbacks.c.callback_id))).first()
        if first is None:
            return CallbackOut(status="duplicate", ticket_id=row.id)
        out = await ticket_service.act(
            session, store=store, ticket_id=row.id, action=body.action, actor=actor, now=datetime.now(UTC),
            outcome=body.outcome, data=data, reason=body.reason, to=to, forward=context.forwarding)
    return CallbackOut(status="applied", ticket_id=row.id, state=out["state"], node=out["current_node"],
                       version=out["version"])
