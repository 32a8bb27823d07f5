"""Daily hours and weekly shifts (backbone.timeofday): what both rosters (EOMS organisation, notify directory) read."""

from __future__ import annotations

import re
from datetime import datetime, time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from backbone.timeofday import WEEKDAYS, DailyHours, WeeklyHours, parse_weekdays


@pytest.mark.parametrize(("spec", "days"), [
    ("mon-fri", (0, 1, 2, 3, 4)),
    ("sat,sun", (5, 6)),
    ("Fri - Mon", (0, 4, 5, 6)),  # wraps the week; case and spaces do not matter
    ("daily", tuple(range(7))), ("all", tuple(range(7))), ("*", tuple(range(7))),
    ("mon,mon-tue", (0, 1)),
])
def test_weekday_specs(spec: str, days: tuple[int, ...]) -> None:
    assert parse_weekdays(spec) == days
    assert WeeklyHours.model_validate({"days": spec, "hours": "08:00-17:00"}).days == days


@given(st.sampled_from(WEEKDAYS), st.sampled_from(WEEKDAYS))
def test_a_range_holds_its_ends_and_wraps(a: str, b: str) -> None:
    days = parse_weekdays(f"{a}-{b}")
    i, j = WEEKDAYS.index(a), WEEKDAYS.index(b)
    assert i in days and j in days
    assert len(days) == (j - i) % 7 + 1


@pytest.mark.parametrize(("spec", "message"), [
    ("mon-fry", "unknown weekday in 'mon-fry' (mon..sun)"),
    ("weekend", "unknown weekday 'weekend' (mon..sun, daily)"),
])
def test_an_unknown_weekday_is_named(spec: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        WeeklyHours.model_validate({"days": spec, "hours": "08:00-17:00"})


def test_numbers_pass_as_they_are() -> None:
    assert WeeklyHours.model_validate({"days": [4, 1], "hours": "08:00-17:00"}).days == (4, 1)


def test_a_night_shift_belongs_to_the_day_it_starts() -> None:
    night = WeeklyHours(days=(0,), hours=DailyHours(start=time(18), end=time(8, 30)))  # Monday 18:00-08:30
    assert night.covers(datetime(2026, 3, 2, 19, 0))      # Monday evening
    assert night.covers(datetime(2026, 3, 3, 7, 0))       # Tuesday morning: Monday's night
    assert not night.covers(datetime(2026, 3, 2, 7, 0))   # Monday morning: Sunday's night, not worked
    assert not night.covers(datetime(2026, 3, 3, 8, 30))  # the end is exclusive
    day = WeeklyHours.model_validate({"days": "mon-fri", "hours": "08:30-17:30"})
    assert day.covers(datetime(2026, 3, 6, 8, 30)) and not day.covers(datetime(2026, 3, 7, 9, 0))  # Fri, Sat
