"""What the CRM consumes: ticket progress from the EOMS bridge, fed back onto orders."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.consumer import Handler
from backbone.envelope import Envelope
from backbone.events import (
    TicketContext,
    TicketCreated,
    TicketNodeEntered,
    TicketResolved,
)
from crm.models import order_tickets, orders


async def _upsert_ticket(session: AsyncSession, ctx: TicketContext, *, state: str, node: str | None, at: object,
                         event: str) -> None:
    entry = {"event": event, "state": state, "node": node, "at": str(at)}
    stmt = insert(order_tickets).values(
        ticket_id=ctx.ticket_id, order_id=ctx.origin_id, ticket_kind=ctx.ticket_kind, state=state, node=node,
        updated_at=at, trail=[entry],
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[order_tickets.c.ticket_id],
            set_={"state": state, "node": node, "updated_at": at, "trail": order_tickets.c.trail.op("||")([entry])},
        )
    )


async def on_ticket_created(session: AsyncSession, event: Envelope) -> None:
    t = event.payload(TicketCreated)
    if t.origin != "order":
        return
    await _upsert_ticket(session, t, state=t.state, node=t.node, at=t.created_at, event=event.type)
    await session.execute(
        update(orders).where(orders.c.id == t.origin_id, orders.c.status == "submitted")
        .values(status="in_progress", updated_at=t.created_at)
    )


async def on_node_entered(session: AsyncSession, event: Envelope) -> None:
    t = event.payload(TicketNodeEntered)
    if t.origin == "order":
        current = (await session.execute(
            select(order_tickets.c.state).where(order_tickets.c.ticket_id == t.ticket_id))).scalar()
        await _upsert_ticket(session, t, state=current or "in_progress", node=t.node, at=t.entered_at,
                             event=event.type)


async def on_ticket_resolved(session: AsyncSession, event: Envelope) -> None:
    t = event.payload(TicketResolved)
    if t.origin != "order":
        return
    await _upsert_ticket(session, t, state=t.resolution, node=None, at=t.resolved_at, event=event.type)
    if t.resolution == "rejected":
        new_status = "rejected"
    elif t.ticket_kind == "service_opening":
        new_status = "opened"  # an order is opened when its service-opening ticket completes
    else:
        return
    await session.execute(
        update(orders).where(orders.c.id == t.origin_id, orders.c.status.in_(["submitted", "in_progress"]))
        .values(status=new_status, updated_at=t.resolved_at)
    )


HANDLERS: dict[str, Handler] = {
    "eoms.ticket.created": on_ticket_created,
    "eoms.ticket.node_entered": on_node_entered,
    "eoms.ticket.resolved": on_ticket_resolved,
}
