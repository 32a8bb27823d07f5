"""Idempotent inbox: the consumer side of the delivery guarantee.

`claim` records (event id, consumer) in the transaction of the effect. If the row exists already,
the event was applied before (a redelivery) and the caller skips the effect. Commit makes both
durable together; a rollback forgets both.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from sqlalchemy import Insert, Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.arrays import select_from_arrays
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


#: The inbox columns a run's claim writes, from one array each (`backbone.arrays`).
_CLAIM_COLUMNS = ("event_id", "consumer", "event_type")
_CLAIM_PREFIX = "inbox_"


@functools.cache
def _claim_many_stmt(inbox: Table) -> Insert:
    """`INSERT INTO <inbox> … SELECT … FROM unnest(<three arrays>) ON CONFLICT DO NOTHING RETURNING event_id`: one
    statement text whatever the run's length, so the database and asyncpg prepare it once (a multi-row VALUES was a
    new statement, parsed, planned and prepared, for every run length). Built once per table."""
    rows = select_from_arrays(inbox, _CLAIM_COLUMNS, prefix=_CLAIM_PREFIX)
    return insert(inbox).from_select(list(_CLAIM_COLUMNS), rows).on_conflict_do_nothing().returning(inbox.c.event_id)


async def claim_many(
    session: AsyncSession, inbox: Table, envelopes: Sequence[Envelope], consumer: str
) -> list[Envelope]:
    """Claim a run of events with one insert (one array per column); returns those seen for the first time, in order.

    An id that appears twice in the run (a redelivery inside one poll) is returned once.
    """
    if not envelopes:
        return []
    params = {_CLAIM_PREFIX + "event_id": [e.id for e in envelopes],
              _CLAIM_PREFIX + "consumer": [consumer] * len(envelopes),
              _CLAIM_PREFIX + "event_type": [e.type for e in envelopes]}
    claimed = set((await session.execute(_claim_many_stmt(inbox), params)).scalars())
    fresh: list[Envelope] = []
    for e in envelopes:
        if e.id in claimed:
            claimed.remove(e.id)
            fresh.append(e)
    return fresh
