"""The daily report's scheduler: a `backbone.workers.Worker` whose pass is `services.reports.run_pass`.

Its clock is a parameter (`clock`, default the system's UTC now): tests hand it a fixed instant (07:59:59,
then 08:00) instead of waiting for the morning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, date, datetime, time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone.workers import Backoff, Worker
from stats.domain.roster import Roster
from stats.domain.schedule import days_to_plan
from stats.services.reports import run_pass


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(eq=False)
class DailyReportScheduler(Worker):
    name = "stats-daily-report"
    error_backoff = Backoff(initial_s=1.0, max_s=30.0)

    session_factory: async_sessionmaker[AsyncSession]
    roster: Roster
    _: KW_ONLY
    at: time
    catch_up_days: int
    interval_s: float
    instance_id: str
    clock: Callable[[], datetime] = utc_now
    planned: list[date] | None = field(default=None, init=False)  # the days whose rows this instance has made sure of

    def __post_init__(self) -> None:
        super().__init__()

    async def step(self) -> float:
        now = self.clock()
        async with self.session_factory() as session, session.begin():
            await run_pass(session, now, self.roster, at=self.at, catch_up_days=self.catch_up_days,
                           generated_by=self.instance_id, planned=self.planned)
        self.planned = days_to_plan(now, catch_up_days=self.catch_up_days, at=self.at)
        return self.interval_s
