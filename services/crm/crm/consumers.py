"""What the CRM consumes.

`eoms.tickets`: ticket progress, kept as a trail on the order or complaint, and fed back:
- an order's first ticket created → the order is `in_progress`;
- any ticket of an order resolved with resolution=rejected → the order is `rejected` (with the reason);
- an order's service-opening tickets all resolved (EOMS opens one per item) → the order is `opened`;
- a complaint's ticket created → `dispatched`; its complaint_fault ticket resolved → `resolved`.
- an order's ticket resolved or closed (cancelled) → its accepted TMF622 cancellation is done once none
  of its tickets is open (`services/cancellations.py:settle`).
`sla.alerts`: the latest alert per ticket, for the account managers' workbench.

Every handler is idempotent by itself too (trail entries carry the event id, a transition that is
no longer legal is skipped), so a second consumer group on the same schema does no harm.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import cache
from typing import Any, Literal

from sqlalchemy import Executable, and_, bindparam, case, func, null, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.consumer import Handler
from backbone.envelope import Envelope
from backbone.events import (
    AlertContext,
    SlaBreached,
    SlaEscalated,
    SlaMet,
    SlaWarning,
    TicketClosed,
    TicketContext,
    TicketCreated,
    TicketNodeCompleted,
    TicketNodeEntered,
    TicketResolved,
    TicketStateChanged,
)
from backbone.vocabulary import TicketKind
from crm.domain.lifecycle import COMPLAINT, ORDER, ComplaintAction, ComplaintState, OrderAction, OrderState
from crm.models import complaints, order_items, orders, sla_alerts, tickets
from crm.services import cancellations as cancellation_service
from crm.services import complaints as complaint_service
from crm.services import orders as order_service

log = logging.getLogger("crm.consumers")
EOMS = "eoms"


#: An order's or complaint's id, to know whether a ticket's origin is of this database (a network ticket's never is).
_ORIGIN_IDS = {origin: select(table.c.id).where(table.c.id == bindparam("origin_id"))
               for origin, table in (("order", orders), ("complaint", complaints))}
NodeMove = Literal["set", "clear", "keep"]


@cache
def _ticket_upsert(sets_state: bool, node: NodeMove) -> Executable:
    """`_record`'s upsert of a ticket with its trail, for one shape of event (whether it sets the state; whether it
    sets, clears or keeps the node), built once with bind parameters: built per event, its construction was most of
    `_record` (py-spy of the CRM at 50 orders/s: `Column`, `BindParameter`, `case` objects per event; the handlers of
    `eoms.ticket.created` and `node_entered` were 21 % of the CRM's samples, the order POST 9 %)."""
    t = tickets.c
    stmt = insert(tickets).values({c: bindparam(c, type_=t[c].type) for c in (
        "ticket_id", "origin", "origin_id", "ticket_kind", "business_type", "state", "node", "reason", "updated_at",
        "trail")})
    # Only a newer event moves the ticket's current state/node (a replay of an old one must not).
    newer = t.updated_at <= stmt.excluded.updated_at
    seen = t.trail.contains(bindparam("seen", type_=t.trail.type))
    node_value: Any = {"clear": case((newer, null()), else_=t.node), "set": case((newer, stmt.excluded.node),
                                                                                  else_=t.node), "keep": t.node}[node]
    return stmt.on_conflict_do_update(
        index_elements=[t.ticket_id],
        set_={
            "state": case((newer, stmt.excluded.state), else_=t.state) if sets_state else t.state,
            "node": node_value,
            "reason": func.coalesce(stmt.excluded.reason, t.reason),
            "updated_at": func.greatest(t.updated_at, stmt.excluded.updated_at),
            "trail": case((seen, t.trail), else_=t.trail.op("||")(bindparam("trail", type_=t.trail.type))),
        },
    )


async def _record(session: AsyncSession, event: Envelope, ctx: TicketContext, *, at: datetime,
                  state: str | None = None, node: str | None = None, clear_node: bool = False,
                  reason: str | None = None) -> bool:
    """Upsert the ticket and append this event to its trail (once per event id); False if not ours."""
    origin_id = _ORIGIN_IDS.get(ctx.origin)
    if origin_id is None or (await session.execute(origin_id, {"origin_id": ctx.origin_id})).first() is None:
        # A network ticket, or not an order or complaint of this database (e.g. one from before a reset): nothing
        # to feed back.
        log.debug("ticket %s refers to unknown %s %s", ctx.ticket_id, ctx.origin, ctx.origin_id)
        return False
    entry: dict[str, Any] = {"event_id": str(event.id), "event": event.type, "at": at.isoformat()}
    entry.update({k: v for k, v in (("state", state), ("node", node), ("reason", reason)) if v is not None})
    upsert = _ticket_upsert(state is not None, "clear" if clear_node else "set" if node is not None else "keep")
    await session.execute(upsert, {
        "ticket_id": ctx.ticket_id, "origin": ctx.origin, "origin_id": ctx.origin_id, "ticket_kind": ctx.ticket_kind,
        "business_type": ctx.business_type, "state": state or "acknowledged", "node": node, "reason": reason,
        "updated_at": at, "trail": [entry], "seen": [{"event_id": str(event.id)}],
    })
    return True


async def _order_step(session: AsyncSession, order_id: str, action: OrderAction, ctx: TicketContext, at: datetime,
                      reason: str | None = None) -> bool:
    """Apply a feedback action if it is legal now (skip it otherwise: late, duplicate or superseded)."""
    status = (await session.execute(select(orders.c.status).where(orders.c.id == order_id)
                                    .with_for_update())).scalar()
    if status is None:
        return False
    state = OrderState(status)
    if action is OrderAction.OPEN and state is OrderState.SUBMITTED:
        # This ticket's `created` was applied, but the order's first ticket's may still be on its way
        # (another partition): the order went through in_progress all the same.
        await order_service.apply_action(session, order_id=order_id, action=OrderAction.START, actor=EOMS, at=at,
                                         ticket_id=ctx.ticket_id)
        state = OrderState.IN_PROGRESS
    if not ORDER.is_allowed(state, action):
        log.info("order %s is %s: %s from ticket %s skipped", order_id, state.value, action.value, ctx.ticket_id)
        return False
    await order_service.apply_action(session, order_id=order_id, action=action, actor=EOMS, at=at, reason=reason,
                                     ticket_id=ctx.ticket_id)
    return True


async def _complaint_step(session: AsyncSession, complaint_id: str, actions: list[ComplaintAction],
                          ctx: TicketContext, at: datetime) -> None:
    status = (await session.execute(select(complaints.c.status).where(complaints.c.id == complaint_id)
                                    .with_for_update())).scalar()
    if status is None:
        return
    state = ComplaintState(status)
    for action in actions:
        if COMPLAINT.is_allowed(state, action):
            state = await complaint_service.apply_action(session, complaint_id=complaint_id, action=action,
                                                         actor=EOMS, at=at, ticket_id=ctx.ticket_id)


async def on_ticket_created(session: AsyncSession, event: Envelope) -> None:
    t = event.payload(TicketCreated)
    if not await _record(session, event, t, at=t.created_at, state=t.state, node=t.node):
        return
    if t.origin == "order":
        await _order_step(session, t.origin_id, OrderAction.START, t, t.created_at)
    else:
        await _complaint_step(session, t.origin_id, [ComplaintAction.DISPATCH], t, t.created_at)


async def on_node_entered(session: AsyncSession, event: Envelope) -> None:
    t = event.payload(TicketNodeEntered)
    await _record(session, event, t, at=t.entered_at, node=t.node)


async def on_node_completed(session: AsyncSession, event: Envelope) -> None:
    t = event.payload(TicketNodeCompleted)
    await _record(session, event, t, at=t.completed_at)


async def on_state_changed(session: AsyncSession, event: Envelope) -> None:
    t = event.payload(TicketStateChanged)
    await _record(session, event, t, at=t.changed_at, state=t.to_state, node=t.node)


async def on_ticket_resolved(session: AsyncSession, event: Envelope) -> None:
    t = event.payload(TicketResolved)
    if not await _record(session, event, t, at=t.resolved_at, state=t.resolution, clear_node=True,
                         reason=t.reason):
        return
    if t.origin == "order":  # an accepted TMF622 cancellation is done once no ticket is open
        await cancellation_service.settle(session, t.origin_id, at=t.resolved_at)
    if t.origin == "complaint":
        if t.resolution == "resolved" and t.ticket_kind == TicketKind.COMPLAINT_FAULT:
            await _complaint_step(session, t.origin_id, [ComplaintAction.DISPATCH, ComplaintAction.RESOLVE], t,
                                  t.resolved_at)
        return
    if t.resolution == "rejected":
        reason = f"{t.ticket_kind} ticket {t.ticket_id} rejected" + (f": {t.reason}" if t.reason else "")
        await _order_step(session, t.origin_id, OrderAction.REJECT, t, t.resolved_at, reason=reason)
    elif t.ticket_kind == TicketKind.SERVICE_OPENING and await _all_opened(session, t.origin_id):
        await _order_step(session, t.origin_id, OrderAction.OPEN, t, t.resolved_at)


async def _all_opened(session: AsyncSession, order_id: str) -> bool:
    """EOMS runs one service-opening ticket per order item: the order is open when all have resolved."""
    items = (await session.execute(select(func.count()).select_from(order_items)
                                   .where(order_items.c.order_id == order_id))).scalar_one()
    done = (await session.execute(select(func.count()).select_from(tickets).where(
        tickets.c.origin == "order", tickets.c.origin_id == order_id,
        tickets.c.ticket_kind == TicketKind.SERVICE_OPENING.value, tickets.c.state == "resolved"))).scalar_one()
    return bool(done >= max(items, 1))


async def on_ticket_closed(session: AsyncSession, event: Envelope) -> None:
    t = event.payload(TicketClosed)
    if await _record(session, event, t, at=t.closed_at, state="closed", clear_node=True) and t.origin == "order":
        await cancellation_service.settle(session, t.origin_id, at=t.closed_at)  # a cancelled ticket closes


async def _alert(session: AsyncSession, event: Envelope, a: AlertContext, level: str,
                 escalation_level: int | None = None) -> None:
    values = {
        "ticket_id": a.ticket_id, "timer_id": a.timer_id, "level": level, "escalation_level": escalation_level,
        "node": a.node, "role": a.role, "deadline": a.deadline, "customer_id": a.customer_id,
        "account_manager_id": a.account_manager_id, "event_time": event.time,
    }
    stmt = insert(sla_alerts).values(**values)
    s = sla_alerts.c
    newer = s.event_time <= stmt.excluded.event_time
    # `met` clears the ticket's risk only for the timer that raised it (a later node may be at risk already).
    where = and_(newer, s.timer_id == stmt.excluded.timer_id) if level == "met" else newer
    await session.execute(stmt.on_conflict_do_update(
        index_elements=[s.ticket_id], set_={k: stmt.excluded[k] for k in values if k != "ticket_id"}, where=where))


async def on_sla_warning(session: AsyncSession, event: Envelope) -> None:
    await _alert(session, event, event.payload(SlaWarning), "warning")


async def on_sla_breached(session: AsyncSession, event: Envelope) -> None:
    await _alert(session, event, event.payload(SlaBreached), "breached")


async def on_sla_escalated(session: AsyncSession, event: Envelope) -> None:
    a = event.payload(SlaEscalated)
    await _alert(session, event, a, "escalated", a.level)


async def on_sla_met(session: AsyncSession, event: Envelope) -> None:
    await _alert(session, event, event.payload(SlaMet), "met")


HANDLERS: dict[str, Handler] = {
    "eoms.ticket.created": on_ticket_created,
    "eoms.ticket.node_entered": on_node_entered,
    "eoms.ticket.node_completed": on_node_completed,
    "eoms.ticket.state_changed": on_state_changed,
    "eoms.ticket.resolved": on_ticket_resolved,
    "eoms.ticket.closed": on_ticket_closed,
    "sla.warning": on_sla_warning,
    "sla.breached": on_sla_breached,
    "sla.escalated": on_sla_escalated,
    "sla.met": on_sla_met,
}
