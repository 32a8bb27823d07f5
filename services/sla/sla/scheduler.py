"""The due-timer scanner: an indexed scan of `next_fire_at`, in batches, every `scan_interval_s`.

Each batch is one transaction (rows claimed with FOR UPDATE SKIP LOCKED, fired marks, alert rows
and outbox rows committed together). A full batch means more is due: the next one starts at once.

"Due" is decided by the database's clock (`clock_timestamp()`), never the instance's: an instance
whose clock runs ahead does not fire early, one behind does not fire late.

One timer that cannot fire (a failure that is not the database's: a broken row, a policy it no
longer fits) must not hold every other due timer back, on every instance, because it sorts first:
when a batch fails that way the pass fires the due timers one by one, each in a savepoint, and a row
that fails alone is deferred by `QUARANTINE_S` (logged, `sla_timer_fire_failures_total`) so the
others fire. A database outage is not isolated: the pass fails and the worker backs off.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone.consumer import is_transient
from backbone.workers import Backoff, Worker
from sla.models import timers
from sla.services.policies import PolicyCatalog
from sla.services.timers import fire_due_timers

log = logging.getLogger("sla.scheduler")

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
    ) -> None:
        super().__init__()
        self.session_factory = session_factory
        self.catalog = catalog
        self.batch_size = batch_size
        self.interval_s = interval_s
        self.fired_by = fired_by

    @staticmethod
    async def db_now(session: AsyncSession) -> datetime:
        now: datetime = (await session.execute(select(func.clock_timestamp()))).scalar_one()
        return now

    async def step(self) -> float:
        try:
            async with self.session_factory() as session, session.begin():
                taken = await fire_due_timers(session, self.catalog, now=await self.db_now(session),
                                              batch_size=self.batch_size, fired_by=self.fired_by)
        except Exception as exc:
            if is_transient(exc):
                raise  # the database away: the worker backs off and tries the batch again
            log.warning("a batch of due timers failed (%r); firing them one by one", exc)
            return await self.fire_one_by_one()
        return 0.0 if taken >= self.batch_size else self.interval_s

    async def fire_one_by_one(self) -> float:
        """Fire up to `batch_size` due timers, each in a savepoint; defer one that fails alone."""
        for _ in range(self.batch_size):
            async with self.session_factory() as session, session.begin():
                now = await self.db_now(session)
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
