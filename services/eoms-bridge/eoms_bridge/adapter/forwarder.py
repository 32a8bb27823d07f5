"""Delivers the forward queue to the external EOMS, in `seq` order per ticket.

A `backbone.workers.Worker` (one pass: `forward_once`). Due rows are claimed with `claim_due`
(FOR UPDATE SKIP LOCKED), so several instances share the work without sending a row twice at
the same time. A row is marked sent in the transaction that claimed it: a crash before the commit
sends it again (at least once; `message_id` lets the EOMS dedupe). A failed row is retried after
a `Backoff` delay, and later rows of the same ticket wait behind it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone.workers import Backoff, Worker, claim_due
from eoms_bridge.adapter.client import CircuitOpenError, EomsClient, EomsRejectedError, EomsUnavailableError
from eoms_bridge.models import forward_queue as fq
from eoms_bridge.models import tickets

log = logging.getLogger("eoms_bridge.forwarder")


def path_for(message_type: str, ticket_id: str) -> str:
    if message_type == "ticket.created":
        return "/tickets"
    return f"/tickets/{ticket_id}/{message_type.removeprefix('ticket.')}"


class Forwarder(Worker):
    name = "eoms-forwarder"

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], client: EomsClient, *,
                 batch_size: int = 50, poll_interval_s: float = 0.2, retry_initial_s: float = 0.5,
                 retry_max_s: float = 60.0) -> None:
        super().__init__()
        self.session_factory = session_factory
        self.client = client
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.retry = Backoff(initial_s=retry_initial_s, max_s=retry_max_s)  # a queued forward that failed
        self._claim = claim_due(fq, fq.c.sent_at.is_(None), fq.c.next_attempt_at <= bindparam("now"),
                                order_by=fq.c.seq, limit=batch_size)

    async def step(self) -> float:
        return await self.forward_once()

    async def forward_once(self) -> float:
        """One pass over due rows; returns how long to wait before the next pass (0: go on)."""
        async with self.session_factory() as session, session.begin():
            rows = (await session.execute(self._claim, {"now": datetime.now(UTC)})).mappings().all()
            if not rows:
                return self.poll_interval_s
            blocked: set[str] = set()
            for r in rows:
                if r["ticket_id"] in blocked:
                    continue  # keep a ticket's messages in order
                body = {**r["payload"], "message_id": f"{r['ticket_id']}:{r['seq']}"}
                try:
                    answer = await self.client.send(path_for(r["message_type"], r["ticket_id"]), body)
                except CircuitOpenError as exc:
                    return max(0.05, min(exc.retry_in_s, self.poll_interval_s * 5))
                except EomsRejectedError as exc:
                    # Dead-lettered in place: kept with its error, not retried.
                    log.error("external EOMS rejected %s for %s: %s", r["message_type"], r["ticket_id"], exc)
                    await self._mark(session, r["seq"], sent=True, error=f"rejected: {exc}")
                except EomsUnavailableError as exc:
                    blocked.add(r["ticket_id"])
                    attempts = r["attempts"] + 1
                    delay = self.retry.delay(attempts)
                    await session.execute(update(fq).where(fq.c.seq == r["seq"]).values(
                        attempts=attempts, last_error=str(exc)[:2000],
                        next_attempt_at=datetime.now(UTC) + timedelta(seconds=delay)))
                else:
                    await self._mark(session, r["seq"], sent=True, error=None)
                    ref = answer.get("id") or answer.get("external_id")
                    if r["message_type"] == "ticket.created" and ref:
                        await session.execute(update(tickets).where(tickets.c.id == r["ticket_id"])
                                              .values(external_ref=str(ref)[:120]))
            return 0.0 if len(rows) == self.batch_size else self.poll_interval_s

    @staticmethod
    async def _mark(session: AsyncSession, seq: int, *, sent: bool, error: str | None) -> None:
        await session.execute(update(fq).where(fq.c.seq == seq).values(
            sent_at=datetime.now(UTC) if sent else None, last_error=error,
            attempts=fq.c.attempts + 1))
