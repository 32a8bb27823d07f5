"""What the SLA service consumes: ticket events from the EOMS bridge (topic eoms.tickets).

- node_entered → start the node's timer (policy resolved under the active version);
- node_completed → stop it: sla.met (late or on time);
- state_changed to `pending` → pause; from `pending` to a live state → resume;
  to cancelled / rejected / closed → cancel the ticket's open timers;
- closed → cancel whatever is still open (a closed ticket has no running clock).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from backbone.consumer import Handler
from backbone.envelope import Envelope
from backbone.events import TicketClosed, TicketNodeCompleted, TicketNodeEntered, TicketStateChanged
from sla.services import timers
from sla.settings import SlaSettings

PENDING = "pending"
ENDED = frozenset({"cancelled", "rejected", "closed"})


def make_handlers(settings: SlaSettings) -> dict[str, Handler]:
    async def on_node_entered(session: AsyncSession, event: Envelope) -> None:
        await timers.start_timer(session, entered=event.payload(TicketNodeEntered), correlation_id=event.correlation_id)

    async def on_node_completed(session: AsyncSession, event: Envelope) -> None:
        await timers.complete_timer(session, completed=event.payload(TicketNodeCompleted),
                                    fired_by=settings.instance_id)

    async def on_state_changed(session: AsyncSession, event: Envelope) -> None:
        e = event.payload(TicketStateChanged)
        if e.to_state in ENDED:
            await timers.cancel_ticket(session, ticket_id=e.ticket_id, at=e.changed_at)
        elif e.to_state == PENDING:
            await timers.pause_ticket(session, ticket_id=e.ticket_id, node=e.node, at=e.changed_at)
        elif e.from_state == PENDING:
            await timers.resume_ticket(session, ticket_id=e.ticket_id, node=e.node, at=e.changed_at)

    async def on_closed(session: AsyncSession, event: Envelope) -> None:
        e = event.payload(TicketClosed)
        await timers.cancel_ticket(session, ticket_id=e.ticket_id, at=e.closed_at)

    return {
        "eoms.ticket.node_entered": on_node_entered,
        "eoms.ticket.node_completed": on_node_completed,
        "eoms.ticket.state_changed": on_state_changed,
        "eoms.ticket.closed": on_closed,
    }
