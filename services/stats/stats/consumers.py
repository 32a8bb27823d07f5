"""What the statistics service consumes: crm.orders, crm.complaints, crm.opportunities, eoms.tickets and
sla.alerts, each event recorded as insert-only facts of the read model (`stats.services.facts`).

The ConsumerRunner claims the inbox rows first (a redelivery is skipped); the facts are keyed so that even
a second consumer group, or a rebuild racing the live consumer, records nothing twice. A partition's run of
events is recorded set-based (`make_batch_applier`: one multi-row insert per table); the per-event handlers
(`make_handlers`) are the runner's fallback, one by one with retries and the DLQ.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from backbone.consumer import BatchApplier, Handler
from backbone.envelope import Envelope
from stats.services.facts import ROWS, record, record_many


def make_handlers() -> dict[str, Handler]:
    async def handle(session: AsyncSession, event: Envelope) -> None:
        await record(session, event)

    return dict.fromkeys(ROWS, handle)


def make_batch_applier() -> BatchApplier:
    async def apply(session: AsyncSession, events: Sequence[Envelope]) -> None:
        await record_many(session, events)

    return apply
