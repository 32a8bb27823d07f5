"""When the daily report is due (stats.domain.schedule): 08:00 Asia/Shanghai the morning after its day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stats.domain.schedule import days_to_plan, due_at, last_due_day

# 2026-03-02 08:00 in Shanghai is 2026-03-02 00:00Z.
EIGHT = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def test_due_at_is_eight_next_morning() -> None:
    assert due_at(date(2026, 3, 1)) == EIGHT


def test_around_eight() -> None:
    before = EIGHT - timedelta(seconds=1)  # 07:59:59
    assert last_due_day(before) == date(2026, 2, 28)
    assert days_to_plan(before) == [date(2026, 2, 28), date(2026, 3, 1)]
    assert last_due_day(EIGHT) == date(2026, 3, 1)
    assert days_to_plan(EIGHT) == [date(2026, 3, 1), date(2026, 3, 2)]
    assert days_to_plan(EIGHT, catch_up_days=3) == [date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 1),
                                                     date(2026, 3, 2)]
    with pytest.raises(ValueError):
        days_to_plan(EIGHT, catch_up_days=0)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_last_due_day_is_the_latest_due(now: datetime) -> None:
    day = last_due_day(now)
    assert due_at(day) <= now < due_at(day + timedelta(days=1))
    planned = days_to_plan(now)
    assert planned[-1] == day + timedelta(days=1) and due_at(planned[-1]) > now
