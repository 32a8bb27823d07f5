"""Ticket use cases: each runs in the caller's transaction and writes its events to the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from backbone.envelope import Envelope
from backbone.events import (
    OrderSubmitted,
    TicketContext,
    TicketCreated,
    TicketNodeEntered,
)
from backbone.ids import new_id
from backbone.outbox import add_event
from eoms_bridge.models import outbox, ticket_history, tickets

SOURCE = "eoms-bridge"
SYSTEM = "system"

# First ticket of an opening: network resource confirmation (the workflow catalog refines this).
FIRST_TICKET = ("resource_confirmation", "resource_check", "network_resource")


async def open_tickets_for_order(session: AsyncSession, *, order: OrderSubmitted, now: datetime) -> list[str]:
    """One order item → its first ticket, at its first node. Idempotent through the caller's inbox."""
    created: list[str] = []
    for item in order.items:
        kind, node, role = FIRST_TICKET
        ticket_id = new_id("tkt")
        ctx = TicketContext(
            ticket_id=ticket_id, ticket_kind=kind, business_type=item.business_type, origin="order",
            origin_id=order.order_id, customer_id=order.customer_id, customer_name=order.customer_name,
            customer_tier=order.customer_tier, account_manager_id=order.account_manager_id,
            workflow_id=item.business_type, workflow_version=1,
        )
        await session.execute(
            tickets.insert().values(
                id=ticket_id, kind=kind, business_type=item.business_type, origin="order",
                origin_id=order.order_id, origin_item_id=item.item_id, customer_id=order.customer_id,
                customer_name=order.customer_name, customer_tier=order.customer_tier,
                account_manager_id=order.account_manager_id, workflow_id=ctx.workflow_id,
                workflow_version=ctx.workflow_version, state="acknowledged", current_node=node, current_role=role,
                node_entered_at=now, created_at=now, updated_at=now,
            )
        )
        await session.execute(
            ticket_history.insert().values(ticket_id=ticket_id, node=node, role=role, action="entered",
                                           actor=SYSTEM, at=now)
        )
        base = ctx.model_dump()
        await add_event(session, outbox, Envelope.wrap(
            TicketCreated(**base, state="acknowledged", node=node, role=role, created_at=now),
            source=SOURCE, subject=ticket_id))
        await add_event(session, outbox, Envelope.wrap(
            TicketNodeEntered(**base, node=node, role=role, entered_at=now), source=SOURCE, subject=ticket_id))
        created.append(ticket_id)
    return created
