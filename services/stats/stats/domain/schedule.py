"""When the daily report of a day is due, and which report days a scheduler pass must know about. Pure.

The report of day D (its figures: D, 00:00-24:00 Asia/Shanghai) is due at 08:00 Asia/Shanghai on
D + 1. A pass at `now` makes sure the rows of the last due report day(s) and of the next one exist;
the claim then takes the rows that are due and still pending. An instance down at 07:59:59 and back
at 08:20 finds the day's row pending and due: it generates it then (catching up), once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from stats.domain.figures import SHANGHAI

REPORT_TIME = time(8, 0)


def due_at(day: date, *, at: time = REPORT_TIME, tz: ZoneInfo = SHANGHAI) -> datetime:
    """The instant (UTC) the report of `day` is due: `at` local time on the next day."""
    return datetime.combine(day + timedelta(days=1), at, tzinfo=tz).astimezone(UTC)


def last_due_day(now: datetime, *, at: time = REPORT_TIME, tz: ZoneInfo = SHANGHAI) -> date:
    """The latest report day whose report is due at `now` (due_at(day) <= now)."""
    if now.tzinfo is None:
        raise ValueError("an aware datetime is needed")
    local = now.astimezone(tz)
    day = local.date() - timedelta(days=1)
    return day if due_at(day, at=at, tz=tz) <= now else day - timedelta(days=1)


def days_to_plan(now: datetime, *, catch_up_days: int = 1, at: time = REPORT_TIME,
                 tz: ZoneInfo = SHANGHAI) -> list[date]:
    """The report days whose rows a pass at `now` ensures: the last `catch_up_days` due ones and the next one."""
    if catch_up_days < 1:
        raise ValueError("catch_up_days must be at least 1")
    last = last_due_day(now, at=at, tz=tz)
    return [last - timedelta(days=i) for i in range(catch_up_days - 1, -1, -1)] + [last + timedelta(days=1)]
