"""The dispatch workers: claim a batch of due rows of a channel, send them concurrently, commit each
outcome as soon as its server answered; wait when idle.

EMAIL_WORKERS / SMS_WORKERS `DispatchWorker`s per process, one per (channel, index). A claim is
one committed statement for up to DISPATCH_BATCH rows: they go `sending` with `claimed_by` = this
instance (`claim_due`: `FOR UPDATE SKIP LOCKED`, two workers or instances never take one row). The
rows of a batch are sent concurrently (the channel bounds it: pooled SMTP sessions, the SMPP window
of each bind); each row's outcome is committed right after its own server answer (`Outcomes.sent`
groups the `sent` commits that are ready at the same moment into one transaction).

Idle workers do not poll: they wait for `Wakeup.wake()` (`wakeup.py`), which the consumer calls after a commit
that queued rows in this process (and the digest worker after queuing a summary). Only worker 0 of
a channel also looks by itself, for retries coming due and rows queued by other instances: when it
found nothing it sleeps until the channel's earliest due row (`next_attempt_at`), at least
DISPATCH_INTERVAL_S and at most DISPATCH_IDLE_POLL_S (5 s: how late a row another instance queued
may be seen here when that instance's own workers cannot take it). A worker that got a row wakes one
more sibling (there may be more).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from backbone.workers import Backoff, Worker, claim_due, until_due
from notify.channels.base import Channel
from notify.context import DispatchParts
from notify.models import deliveries

log = logging.getLogger("notify.dispatch")

IDLE_WAIT_S = 60.0  # a worker that does not poll still looks once a minute (belt and braces)
LEASE_WAIT_S = 0.1  # how often a worker looks whether the instance holds its lease again
SETTLE_ATTEMPTS = 8  # commits of one outcome tried in the pass (about 10 s with the backoff below)
SETTLE_BACKOFF = Backoff(initial_s=0.1, max_s=2.0)

_d = deliveries
# Prebuilt (parameters bound per call): the claim is the hot path of every message. Each row comes back
# with `claimed_from`, its status before the claim: `retrying` means an earlier try (a failure, a
# recovered or uncertain row), which alone can have left acknowledged SMS parts behind.
_DUE = claim_due(
    _d,
    _d.c.status.in_(["queued", "retrying"]), _d.c.channel == bindparam("claim_channel"),
    _d.c.next_attempt_at <= func.now(),
    order_by=_d.c.next_attempt_at, limit=bindparam("claim_limit"),
    columns=(_d.c.id, _d.c.status.label("claimed_from")),
).cte("due")
_CLAIM = (
    update(_d)
    .where(_d.c.id == _DUE.c.id)
    .values(status="sending", claimed_by=bindparam("claim_instance"), attempts=_d.c.attempts + 1, updated_at=func.now())
    .returning(*_d.c, _DUE.c.claimed_from)
)
# Seconds until the channel's earliest row waiting to be claimed is due (None: no row waits).
_NEXT_DUE_IN = (
    select(func.extract("epoch", func.min(_d.c.next_attempt_at) - func.now()))
    .where(_d.c.status.in_(["queued", "retrying"]), _d.c.channel == bindparam("claim_channel"))
)


class DispatchWorker(Worker):
    def __init__(
        self,
        channel: Channel,
        index: int,
        *,
        parts: DispatchParts,
        engine: AsyncEngine,
        poll_s: float | None,
        batch: int = 1,
        idle_poll_s: float | None = None,
    ) -> None:
        super().__init__(f"notify-dispatch-{channel.name}-{index}")
        self.channel = channel
        self.engine = engine
        self.lease, self.wakeup, self.outcomes = parts.lease, parts.wakeup, parts.outcomes
        self.poll_s = poll_s  # None: wait for a wake-up only
        self.idle_poll_s = idle_poll_s if idle_poll_s is not None else poll_s  # the longest sleep when idle
        self.batch = batch  # rows claimed in one statement, sent concurrently
        self.unsettled: list[Callable[[], Awaitable[None]]] = []  # outcomes not committed yet

    async def claim(self) -> list[dict[str, Any]]:
        """Up to `batch` due rows, now `sending` under this instance (one statement, committed: in autocommit,
        one round trip instead of BEGIN, the claim, COMMIT)."""
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            rows = (await conn.execute(
                _CLAIM, {"claim_channel": self.channel.name, "claim_instance": self.lease.instance,
                         "claim_limit": self.batch}
            )).all()
        return [dict(row._mapping) for row in rows]

    async def step(self) -> float:
        name = self.channel.name
        self.wakeup.busy(name, self)
        if self.unsettled:
            async with self.lease.sending():  # the lock is kept while a row of ours is in `sending`
                await self.settle_pending()
        if not self.lease.alive.is_set():
            return LEASE_WAIT_S  # no lock, no claim
        generation = self.wakeup.generation[name]
        rows = await self.claim()
        if not rows:
            if self.wakeup.generation[name] != generation:
                return 0.0  # rows were queued while we claimed: look again
            self.wakeup.idle(name, self)
            return await self.idle_wait() if self.poll_s is not None else IDLE_WAIT_S
        if len(rows) == self.batch:
            self.wakeup.wake(name, count=1)  # there may be more: get a sibling going
        async with self.lease.sending():
            if len(rows) == 1:
                await self.send(rows[0])
            else:  # `send` never raises for a row's failure: one row cannot abort its batch
                await asyncio.gather(*(self.send(row) for row in rows))
        return 0.0

    async def idle_wait(self) -> float:
        """Worker 0 found nothing: sleep until the channel's earliest due row, within its poll bounds."""
        assert self.poll_s is not None and self.idle_poll_s is not None
        if self.idle_poll_s <= self.poll_s:
            return self.poll_s
        async with self.engine.connect() as conn:
            due_in = (await conn.execute(_NEXT_DUE_IN, {"claim_channel": self.channel.name})).scalar()
        return until_due(None if due_in is None else float(due_in), at_least_s=self.poll_s,
                         at_most_s=self.idle_poll_s)

    async def send(self, row: dict[str, Any]) -> None:
        """Send one claimed row and commit the outcome (a failure is the row's, never the worker's).

        The outcome's commit is retried (`SETTLE_ATTEMPTS`, backing off) while the instance holds the
        row. Accepted by the server but `sent` never committed: the row is requeued flagged `uncertain`.
        If even that cannot be committed (the database away), the row is kept in `unsettled` and
        settled before the next claim, so it is never stranded in `sending` under a live owner (and
        if the process dies first, `recover` requeues it, also flagged `uncertain`).
        """
        try:
            sent = await self.channel.send(row)
        except self.channel.permanent_errors as exc:
            reason = f"{type(exc).__name__}: {exc}"
            await self._settle(row, lambda: self.outcomes.failed(row, reason, permanent=True))
            return
        except self.channel.unreachable_errors as exc:  # the server away: the message is not to blame
            reason = f"{type(exc).__name__}: {exc}"
            await self._settle(row, lambda: self.outcomes.failed(row, reason, permanent=False, unreachable=True))
            self.wakeup.wake(self.channel.name)  # a retry now waits: the idle poller re-times its sleep
            return
        except Exception as exc:  # noqa: BLE001 - any other failure is transient: retry with backoff
            reason = f"{type(exc).__name__}: {exc}"
            await self._settle(row, lambda: self.outcomes.failed(row, reason, permanent=False))
            self.wakeup.wake(self.channel.name)
            return
        failure = await self._try(lambda: self.outcomes.sent(row, sent))
        if failure is not None:
            reason = f"{type(failure).__name__}: {failure}"
            await self._settle(row, lambda: self.outcomes.uncertain(row, reason))
            return
        log.info("%s %s sent %s", "e-mail" if self.channel.name == "email" else "SMS", row["id"], sent.summary)

    async def _try(self, commit: Callable[[], Awaitable[None]]) -> BaseException | None:
        """Commit an outcome, retrying a failed commit; the last error, or None once committed."""
        for attempt in range(1, SETTLE_ATTEMPTS + 1):
            try:
                await commit()
                return None
            except Exception as exc:  # noqa: BLE001 - the database away: retried, then handed on
                if attempt == SETTLE_ATTEMPTS or self.stopping:
                    return exc
                log.warning("%s: committing an outcome failed (%r); retrying", self.name, exc)
                await self.sleep(SETTLE_BACKOFF.delay(attempt))
        return None

    async def _settle(self, row: dict[str, Any], commit: Callable[[], Awaitable[None]]) -> None:
        if await self._try(commit) is not None:
            log.error("%s: delivery %s left unsettled; settled before the next claim", self.name, row["id"])
            self.unsettled.append(commit)

    async def settle_pending(self) -> bool:
        """Settle outcomes an earlier pass could not commit. True when none is left."""
        while self.unsettled:
            await self.unsettled[0]()  # raises while the database is away: the pass fails and backs off
            self.unsettled.pop(0)
        return True
