"""What the SLA service consumes: ticket events from the EOMS bridge (topic eoms.tickets).

- node_entered → start the node's timer (policy resolved under the active version);
- node_completed → stop it: sla.met (late or on time);
- state_changed to `pending` → pause; from `pending` to a live state → resume;
  to cancelled / rejected / closed → cancel the ticket's open timers;
- closed → cancel whatever is still open (a closed ticket has no running clock);
- crm.customer.tier_changed (topic crm.customers) → record the re-grading: nodes entered from then on
  time with the new tier, running timers keep theirs.

`make_handlers` gives one handler per event type (backbone's per-event path: retries, DLQ);
`make_batch_applier` applies a partition's run of claimed events set-based (ConsumerRunner's
`apply_run`): consecutive starts in one statement, consecutive completions in a few, the rest one by one, all
in partition order.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from sqlalchemy.ext.asyncio import AsyncSession

from backbone.consumer import BatchApplier, Handler
from backbone.envelope import Envelope
from backbone.events import (
    CustomerTierChanged,
    TicketClosed,
    TicketNodeCompleted,
    TicketNodeEntered,
    TicketStateChanged,
)
from sla.context import SlaContext
from sla.services import tiers, timers

PENDING = "pending"
ENDED = frozenset({"cancelled", "rejected", "closed"})
NODE_ENTERED = "eoms.ticket.node_entered"
NODE_COMPLETED = "eoms.ticket.node_completed"
TIER_CHANGED = "crm.customer.tier_changed"


def make_handlers(context: SlaContext) -> dict[str, Handler]:
    catalog, fired_by = context.policies, context.instance_id

    async def on_node_entered(session: AsyncSession, event: Envelope) -> None:
        await timers.start_timers(session, catalog, [(event.payload(TicketNodeEntered), event.correlation_id)],
                                  fired_by)

    async def on_node_completed(session: AsyncSession, event: Envelope) -> None:
        await timers.complete_timers(session, catalog, [event.payload(TicketNodeCompleted)], fired_by)

    async def on_state_changed(session: AsyncSession, event: Envelope) -> None:
        e = event.payload(TicketStateChanged)
        if e.to_state in ENDED:
            await timers.cancel_ticket(session, catalog, ticket_id=e.ticket_id, at=e.changed_at, recorded_by=fired_by)
        elif e.to_state == PENDING:
            await timers.pause_ticket(session, catalog, ticket_id=e.ticket_id, node=e.node, at=e.changed_at)
        elif e.from_state == PENDING:
            await timers.resume_ticket(session, catalog, ticket_id=e.ticket_id, node=e.node, at=e.changed_at)

    async def on_closed(session: AsyncSession, event: Envelope) -> None:
        e = event.payload(TicketClosed)
        await timers.cancel_ticket(session, catalog, ticket_id=e.ticket_id, at=e.closed_at, recorded_by=fired_by)

    async def on_tier_changed(session: AsyncSession, event: Envelope) -> None:
        await tiers.record_change(session, event.payload(CustomerTierChanged), event_id=event.id)

    return {
        TIER_CHANGED: on_tier_changed,
        NODE_ENTERED: on_node_entered,
        NODE_COMPLETED: on_node_completed,
        "eoms.ticket.state_changed": on_state_changed,
        "eoms.ticket.closed": on_closed,
    }


def make_batch_applier(context: SlaContext, handlers: dict[str, Handler]) -> BatchApplier:
    catalog, fired_by = context.policies, context.instance_id

    async def apply(session: AsyncSession, events: Sequence[Envelope]) -> None:
        for etype, group in groupby(events, key=lambda e: e.type):
            run = list(group)
            if etype == NODE_ENTERED:
                await timers.start_timers(session, catalog,
                                          [(e.payload(TicketNodeEntered), e.correlation_id) for e in run], fired_by)
            elif etype == NODE_COMPLETED:
                await timers.complete_timers(session, catalog, [e.payload(TicketNodeCompleted) for e in run],
                                             fired_by)
            else:
                for e in run:
                    await handlers[etype](session, e)

    return apply
