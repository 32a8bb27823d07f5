"""The due-timer scanner: an indexed scan of `next_fire_at`, in batches, when the next timer is due.

Each batch is one transaction (rows claimed with FOR UPDATE SKIP LOCKED, fired marks, alert rows
and outbox rows committed together). A pass opens with one statement that reads the database's clock
and the earliest `next_fire_at` (the partial index's first entry): when nothing is due yet, that is
the whole pass (a wake-up by a consumer's commit, the idle fallback), with no claim and no second
read. A full batch means more is due: the next one starts at once. Otherwise the same transaction
reads the earliest `next_fire_at` left and the scanner sleeps until then, at most `scan_idle_s`
(the fallback for timers written without a wake-up). The consumer that writes timers wakes the
scanner when its transaction commits (`ConsumerRunner.wake_on_commit`), so a timer that is due
sooner than the scanner's sleep is not missed.
Passes that do not end in a full batch start at least `scan_interval_s` apart, however often the
scanner is woken (under load, due timers are taken in batches, as before).

"Due" is decided by the database's clock (`clock_timestamp()`), never the instance's: an instance
whose clock runs ahead does not fire early, one behind does not fire late.

One timer that cannot fire (a failure that is not the database's: a broken row, a policy it no
longer fits) must not hold every other due timer back, on every instance, because it sorts first:
when a batch fails that way the pass fires the due timers one by one, each in a savepoint, and a row
that fails alone is deferred by `QUARANTINE_S` (logged, `sla_timer_fire_failures_total`) so the
others fire. A database outage is not isolated: the pass fails and the worker backs off.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone.consumer import is_transient
from backbone.db import db_now
from backbone.workers import Backoff, Worker, until_due
from sla.models import timers
from sla.services.policies import PolicyCatalog
from sla.services.timers import fire_due_timers

log = logging.getLogger("sla.scheduler")

# The partial index's first entry; with the database's clock, the statement a pass opens with.
_NEXT_DUE = select(func.min(timers.c.next_fire_at)).where(timers.c.next_fire_at.is_not(None))
_CLOCK_AND_NEXT_DUE = select(func.clock_timestamp(), func.min(timers.c.next_fire_at)).where(
    timers.c.next_fire_at.is_not(None))
QUARANTINE_S = 60.0  # a timer that failed to fire alone is tried again after this
TIMER_FIRE_FAILURES = Counter("sla_timer_fire_failures_total", "Due timers that failed to fire alone (deferred)")


class DueTimerScanner(Worker):
    """A `Worker` whose pass fires one batch of due timers."""

    name = "sla-due-timers"
    # A failed pass (database away) is retried soon: firing late is what the SLA service is for.
    error_backoff = Backoff(initial_s=0.2, max_s=5.0)

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        catalog: PolicyCatalog,
        *,
        batch_size: int,
        interval_s: float,
        fired_by: str,
        idle_s: float | None = None,
    ) -> None:
        super().__init__()
        self.session_factory = session_factory
        self.catalog = catalog
        self.batch_size = batch_size
        self.interval_s = interval_s
        self.idle_s = max(interval_s, idle_s if idle_s is not None else interval_s)
        self.fired_by = fired_by
        self._last_pass = -float("inf")  # monotonic end of the last pass

    @staticmethod
    async def next_due(session: AsyncSession) -> datetime | None:
        """The earliest `next_fire_at` of an open timer (the first entry of the partial index), or None."""
        first: datetime | None = (await session.execute(_NEXT_DUE)).scalar_one()
        return first

    @staticmethod
    async def clock_and_next_due(session: AsyncSession) -> tuple[datetime, datetime | None]:
        """The database's clock (`clock_timestamp()`, as `db_now`) and the earliest `next_fire_at`, one statement."""
        now, first = (await session.execute(_CLOCK_AND_NEXT_DUE)).one()
        return now.astimezone(UTC), first

    async def step(self) -> float:
        # Woken often (a consumer writing timers under load), passes that end short of a full batch stay
        # `interval_s` apart; after a full batch the next one starts at once.
        gap = self.interval_s - (time.monotonic() - self._last_pass)
        if gap > 0 and not self.stopping:
            await asyncio.sleep(gap)
        self._last_pass = -float("inf")
        try:
            async with self.session_factory() as session, session.begin():
                now, first = await self.clock_and_next_due(session)
                if first is not None and first <= now:  # else nothing is due: no claim, no second read
                    taken = await fire_due_timers(session, self.catalog, now=now, batch_size=self.batch_size,
                                                  fired_by=self.fired_by)
                    if taken >= self.batch_size:
                        return 0.0
                    first = await self.next_due(session)
        except Exception as exc:
            if is_transient(exc):
                raise  # the database away: the worker backs off and tries the batch again
            log.warning("a batch of due timers failed (%r); firing them one by one", exc)
            return await self.fire_one_by_one()
        self._last_pass = time.monotonic()
        # By the database's clock read at the pass's start: the pass's own time makes it wake a bit early.
        return until_due(None if first is None else (first - now).total_seconds(), at_least_s=0.0,
                         at_most_s=self.idle_s)

    async def fire_one_by_one(self) -> float:
        """Fire up to `batch_size` due timers, each in a savepoint; defer one that fails alone."""
        for _ in range(self.batch_size):
            async with self.session_factory() as session, session.begin():
                now = await db_now(session)
                try:
                    async with session.begin_nested():
                        taken = await fire_due_timers(session, self.catalog, now=now, batch_size=1,
                                                      fired_by=self.fired_by)
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    await self.defer_first_due(session, now, exc)
                    continue
            if not taken:
                return self.interval_s
        return 0.0

    async def defer_first_due(self, session: AsyncSession, now: datetime, exc: BaseException) -> None:
        """The timer `fire_due_timers(batch_size=1)` took is the first due one we can lock: defer it."""
        row = (await session.execute(
            select(timers.c.id).where(timers.c.next_fire_at <= now).order_by(timers.c.next_fire_at)
            .limit(1).with_for_update(skip_locked=True)
        )).first()
        if row is None:
            return
        await session.execute(update(timers).where(timers.c.id == row.id)
                              .values(next_fire_at=now + timedelta(seconds=QUARANTINE_S)))
        TIMER_FIRE_FAILURES.inc()
        log.error("timer %s failed to fire (%s: %s); deferred %.0fs, the other due timers go on",
                  row.id, type(exc).__name__, exc, QUARANTINE_S)
