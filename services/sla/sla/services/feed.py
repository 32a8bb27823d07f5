"""Reading the alert table in commit order, for the live feed (SSE), from any instance.

A bare sequence is not commit-safe: id 7 can commit before id 6, and a reader that moved past 7
would never see 6. Each alert row carries the id of the transaction that wrote it (`xid`); the
reader only takes rows whose transaction is older than the oldest one still running
(`pg_snapshot_xmin`), so nothing can appear behind its cursor, and pages by `(xid, id)`.
The price: a long-running transaction in the database delays the feed until it ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

#: What the feed carries: the alerts, the completions (`sla.met`, on time or late) and the feed-only records
#: of a timer starting and being cancelled, so a board adds and drops rows as they happen.
ALERT_TYPES = ("sla.warning", "sla.breached", "sla.escalated")
FEED_TYPES = (*ALERT_TYPES, "sla.met", "sla.timer_started", "sla.timer_cancelled")


@dataclass(frozen=True, order=True)
class Cursor:
    xid: int
    id: int

    def __str__(self) -> str:
        return f"{self.xid}.{self.id}"

    @classmethod
    def parse(cls, value: str) -> Cursor:
        xid, _, id_ = value.partition(".")
        return cls(int(xid), int(id_))


async def start_cursor(session: AsyncSession) -> Cursor:
    """A cursor at "now": everything committed from here on comes after it."""
    xmin = (await session.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"))).scalar_one()
    return Cursor(int(xmin) - 1, 2**63 - 1)


async def read_after(session: AsyncSession, cursor: Cursor, types: tuple[str, ...], limit: int = 500
                     ) -> list[dict[str, Any]]:
    rows = (await session.execute(text(
        "SELECT xid, id, event_id, event_type, timer_id, ticket_id, fired_at, data FROM alerts "
        "WHERE (xid, id) > (:xid, :id) AND xid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint "
        "AND event_type = ANY(:types) ORDER BY xid, id LIMIT :limit"
    ), {"xid": cursor.xid, "id": cursor.id, "types": list(types), "limit": limit})).all()
    return [
        {"cursor": Cursor(r.xid, r.id), "event_id": str(r.event_id), "type": r.event_type, "timer_id": r.timer_id,
         "ticket_id": r.ticket_id, "fired_at": r.fired_at, "data": r.data}
        for r in rows
    ]
