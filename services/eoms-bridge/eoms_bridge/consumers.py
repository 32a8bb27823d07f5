"""What the bridge consumes: submitted orders (and complaints) from the CRM."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from backbone.consumer import Handler
from backbone.envelope import Envelope
from backbone.events import OrderSubmitted
from eoms_bridge.services import tickets


async def on_order_submitted(session: AsyncSession, event: Envelope) -> None:
    await tickets.open_tickets_for_order(session, order=event.payload(OrderSubmitted), now=datetime.now(UTC))


HANDLERS: dict[str, Handler] = {"crm.order.submitted": on_order_submitted}
