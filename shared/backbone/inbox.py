"""Idempotent inbox: the consumer side of the delivery guarantee.

`claim` records (event id, consumer) in the transaction of the effect. If the row exists already,
the event was applied before (a redelivery) and the caller skips the effect. Commit makes both
durable together; a rollback forgets both.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.envelope import Envelope


async def claim(session: AsyncSession, inbox: Table, envelope: Envelope, consumer: str) -> bool:
    """True if this is the first time `consumer` sees the event; False for a redelivery."""
    stmt = (
        insert(inbox)
        .values(event_id=envelope.id, consumer=consumer, event_type=envelope.type)
        .on_conflict_do_nothing()
        .returning(inbox.c.event_id)
    )
    return (await session.execute(stmt)).first() is not None


async def claim_many(
    session: AsyncSession, inbox: Table, envelopes: Sequence[Envelope], consumer: str
) -> list[Envelope]:
    """Claim a run of events with one multi-row insert; returns those seen for the first time, in order.

    An id that appears twice in the run (a redelivery inside one poll) is returned once.
    """
    if not envelopes:
        return []
    rows = [{"event_id": e.id, "consumer": consumer, "event_type": e.type} for e in envelopes]
    claimed = set(
        (await session.execute(insert(inbox).on_conflict_do_nothing().returning(inbox.c.event_id), rows)).scalars()
    )
    fresh: list[Envelope] = []
    for e in envelopes:
        if e.id in claimed:
            claimed.remove(e.id)
            fresh.append(e)
    return fresh
