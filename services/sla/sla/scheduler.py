"""The due-timer scanner: an indexed scan of `next_fire_at`, in batches, every `scan_interval_s`.

Each batch is one transaction (rows claimed with FOR UPDATE SKIP LOCKED, fired marks, alert rows
and outbox rows committed together). A full batch means more is due: the next one starts at once.

"Due" is decided by the database's clock (`clock_timestamp()`), never the instance's: an instance
whose clock runs ahead does not fire early, one behind does not fire late.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone.workers import Backoff, Worker
from sla.services.policies import PolicyCatalog
from sla.services.timers import fire_due_timers


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

    async def step(self) -> float:
        async with self.session_factory() as session, session.begin():
            now = (await session.execute(select(func.clock_timestamp()))).scalar_one()
            taken = await fire_due_timers(session, self.catalog, now=now, batch_size=self.batch_size,
                                          fired_by=self.fired_by)
        return 0.0 if taken >= self.batch_size else self.interval_s
