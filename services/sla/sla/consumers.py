"""What the SLA service consumes: ticket node events from the EOMS bridge."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from backbone.consumer import Handler
from backbone.envelope import Envelope
from backbone.events import TicketNodeCompleted, TicketNodeEntered
from sla.services import timers
from sla.settings import SlaSettings


def make_handlers(settings: SlaSettings) -> dict[str, Handler]:
    limit = timedelta(seconds=settings.default_limit_s)

    async def on_node_entered(session: AsyncSession, event: Envelope) -> None:
        await timers.start_timer(session, entered=event.payload(TicketNodeEntered), limit=limit)

    async def on_node_completed(session: AsyncSession, event: Envelope) -> None:
        await timers.stop_timer(session, completed=event.payload(TicketNodeCompleted))

    return {"eoms.ticket.node_entered": on_node_entered, "eoms.ticket.node_completed": on_node_completed}
