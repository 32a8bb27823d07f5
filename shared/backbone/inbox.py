"""Idempotent inbox: the consumer side of the delivery guarantee.

`claim` records (event id, consumer) in the transaction of the effect. If the row exists already,
the event was applied before (a redelivery) and the caller skips the effect. Commit makes both
durable together; a rollback forgets both.
"""

from __future__ import annotations

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
