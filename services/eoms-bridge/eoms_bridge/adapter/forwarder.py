"""Delivers the forward queue to the external EOMS, in `seq` order per ticket.

A `backbone.workers.Worker` (one pass: `forward_once`), in three steps so that no database
transaction is ever held across an HTTP call:

1. claim: in one short transaction, take the due rows that are the *head* of their ticket's queue
   (no earlier unsent row of the same ticket exists, whether it is backing off, set aside or held
   by another instance) with `FOR UPDATE SKIP LOCKED`, lease them (`next_attempt_at` = the
   database's `now()` + `lease_s`), commit;
2. call the EOMS for each claimed row, no transaction open;
3. record each outcome in its own short transaction: sent; failed (attempts + 1, retried after a
   `Backoff` delay); or rejected.

A crash between 1 and 3 leaves the row leased: it is due again when the lease ends and is sent
again (at least once; `message_id` lets the EOMS dedupe). A ticket's later message never overtakes
an earlier one, also while the earlier one backs off.

A 4xx answer (the EOMS is up and said no) is never "sent": the row keeps its error
(`last_error` = "rejected: …"), is parked (`next_attempt_at` = `PARKED_UNTIL`), is counted
(`eoms_forward_rejected_total`, `eoms_forward_parked_rows`) and holds its ticket's later messages,
so a cancel is never followed by an orphan open and nothing is lost silently. An operator re-queues
it (`UPDATE eoms.forward_queue SET next_attempt_at = now() WHERE seq = …`) or discards it
(`… SET sent_at = now() …`); either releases the ticket's later messages.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone.workers import Backoff, Worker, claim_due
from eoms_bridge.adapter.client import CircuitOpenError, EomsClient, EomsRejectedError, EomsUnavailableError
from eoms_bridge.models import forward_queue as fq
from eoms_bridge.models import tickets

log = logging.getLogger("eoms_bridge.forwarder")

# A rejected row waits here for an operator: never due again by itself.
PARKED_UNTIL = datetime(9999, 1, 1, tzinfo=UTC)

FORWARD_REJECTED = Counter("eoms_forward_rejected_total", "Forwards the external EOMS rejected (4xx), parked",
                           ["message_type"])
FORWARD_PARKED = Gauge("eoms_forward_parked_rows", "Forward rows parked after a rejection (last pass)")


def path_for(message_type: str, ticket_id: str) -> str:
    if message_type == "ticket.created":
        return "/tickets"
    return f"/tickets/{ticket_id}/{message_type.removeprefix('ticket.')}"


class Forwarder(Worker):
    name = "eoms-forwarder"

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], client: EomsClient, *,
                 batch_size: int = 50, poll_interval_s: float = 0.2, retry_initial_s: float = 0.5,
                 retry_max_s: float = 60.0, lease_s: float = 120.0) -> None:
        super().__init__()
        self.session_factory = session_factory
        self.client = client
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.lease_s = lease_s  # longer than a call with all its retries
        self.retry = Backoff(initial_s=retry_initial_s, max_s=retry_max_s)  # a queued forward that failed
        earlier = fq.alias("earlier")
        head_of_its_ticket = ~exists().where(
            earlier.c.ticket_id == fq.c.ticket_id, earlier.c.sent_at.is_(None), earlier.c.seq < fq.c.seq
        )
        self._claim = claim_due(fq, fq.c.sent_at.is_(None), fq.c.next_attempt_at <= func.now(), head_of_its_ticket,
                                order_by=fq.c.seq, limit=batch_size, columns=(fq.c.seq,))
        self._parked = select(func.count()).select_from(fq).where(
            fq.c.sent_at.is_(None), fq.c.next_attempt_at >= bindparam("parked"))

    async def step(self) -> float:
        return await self.forward_once()

    async def claim(self) -> list[dict[str, Any]]:
        """Lease the due heads of their tickets' queues; committed before any call is made."""
        async with self.session_factory() as session, session.begin():
            seqs = list((await session.execute(self._claim)).scalars())
            if not seqs:
                FORWARD_PARKED.set(int((await session.execute(self._parked, {"parked": PARKED_UNTIL})).scalar_one()))
                return []
            leased = await session.execute(
                update(fq).where(fq.c.seq.in_(seqs))
                .values(next_attempt_at=func.now() + timedelta(seconds=self.lease_s))
                .returning(fq.c.seq, fq.c.ticket_id, fq.c.message_type, fq.c.payload, fq.c.attempts)
            )
            return sorted((dict(r) for r in leased.mappings()), key=lambda r: r["seq"])

    async def forward_once(self) -> float:
        """One pass over due rows; returns how long to wait before the next pass (0: go on)."""
        rows = await self.claim()
        if not rows:
            return self.poll_interval_s
        sent = 0
        for i, r in enumerate(rows):
            body = {**r["payload"], "message_id": f"{r['ticket_id']}:{r['seq']}"}
            try:
                answer = await self.client.send(path_for(r["message_type"], r["ticket_id"]), body)
            except CircuitOpenError as exc:
                # Nothing was sent for this row and the rest: release their leases.
                await self._release([x["seq"] for x in rows[i:]], exc.retry_in_s)
                return max(0.05, min(exc.retry_in_s, self.poll_interval_s * 5))
            except EomsRejectedError as exc:
                FORWARD_REJECTED.labels(r["message_type"]).inc()
                log.error("external EOMS rejected %s for %s (parked; the ticket's later messages wait): %s",
                          r["message_type"], r["ticket_id"], exc)
                await self._record(r["seq"], attempts=r["attempts"] + 1, error=f"rejected: {exc}",
                                   next_attempt_at=PARKED_UNTIL)
            except EomsUnavailableError as exc:
                attempts = r["attempts"] + 1
                delay = self.retry.delay(attempts)
                await self._record(r["seq"], attempts=attempts, error=str(exc), retry_in_s=delay)
            else:
                sent += 1
                await self._record_sent(r, answer)
        return 0.0 if sent else self.poll_interval_s

    async def _release(self, seqs: list[int], retry_in_s: float) -> None:
        async with self.session_factory() as session, session.begin():
            await session.execute(update(fq).where(fq.c.seq.in_(seqs), fq.c.sent_at.is_(None)).values(
                next_attempt_at=func.now() + timedelta(seconds=max(0.0, retry_in_s))))

    async def _record(self, seq: int, *, attempts: int, error: str, retry_in_s: float | None = None,
                      next_attempt_at: datetime | None = None) -> None:
        when: Any = next_attempt_at if next_attempt_at is not None else (
            func.now() + timedelta(seconds=retry_in_s or 0.0))
        async with self.session_factory() as session, session.begin():
            await session.execute(update(fq).where(fq.c.seq == seq, fq.c.sent_at.is_(None)).values(
                attempts=attempts, last_error=error[:2000], next_attempt_at=when))

    async def _record_sent(self, r: dict[str, Any], answer: dict[str, Any]) -> None:
        async with self.session_factory() as session, session.begin():
            await session.execute(update(fq).where(fq.c.seq == r["seq"]).values(
                sent_at=func.now(), last_error=None, attempts=fq.c.attempts + 1))
            ref = answer.get("id") or answer.get("external_id")
            if r["message_type"] == "ticket.created" and ref:
                await session.execute(update(tickets).where(tickets.c.id == r["ticket_id"])
                                      .values(external_ref=str(ref)[:120]))
