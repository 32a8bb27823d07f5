"""Business calendar arithmetic: properties (hypothesis) and the 2025 National Day example."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla.domain.calendar import (
    BusinessCalendar,
    CalendarSpec,
    HolidaySource,
    add_business_duration,
    business_duration_between,
    is_working_time,
    parse_hours,
    working_periods,
)
from sla.domain.errors import PolicyError

UTC = dt.UTC
SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")

SHANGHAI_CN = BusinessCalendar(name="cn_office")
BERLIN_OFFICE = BusinessCalendar(
    name="berlin_office",
    tz=BERLIN,
    week_hours=(parse_hours(["08:00-12:00", "13:00-17:00"]),) * 7,
    holidays=HolidaySource.NONE,
)
# Every day 01:00-04:00 and 22:00-24:00 in Berlin: crosses both DST transitions
# (gap 02:00→03:00 in March, fold 03:00→02:00 in October) and midnight.
BERLIN_NIGHT = BusinessCalendar(
    name="berlin_night",
    tz=BERLIN,
    week_hours=(((60, 240), (1320, 1440)),) * 7,
    weekend=frozenset(),
    holidays=HolidaySource.NONE,
)
SHANGHAI_SAT = CalendarSpec(
    name="cn_network_ops",
    hours=("08:30-12:00", "13:00-20:00"),
    weekday_hours={"sat": ("09:00-12:00",)},
    weekend=("sun",),
    extra_holidays=(dt.date(2025, 12, 31),),
    extra_workdays=(dt.date(2031, 1, 5),),
).build()
ALWAYS = BusinessCalendar.always()

CALENDARS = [SHANGHAI_CN, BERLIN_OFFICE, BERLIN_NIGHT, SHANGHAI_SAT]

calendars = st.sampled_from(CALENDARS)
# 2002..2029 spans both ends of chinese_calendar's data (2004..2026): fallback is exercised.
instants = st.datetimes(
    min_value=dt.datetime(2002, 6, 1), max_value=dt.datetime(2029, 6, 1), timezones=st.just(UTC)
)
durations = st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=12))
positive = st.timedeltas(min_value=dt.timedelta(microseconds=1), max_value=dt.timedelta(days=12))


def _at_period_end(cal: BusinessCalendar, t: dt.datetime) -> bool:
    day = t.astimezone(cal.tz).date()
    # A period ending at 24:00 belongs to the previous local date.
    return any(
        e == t for d in (day, day - dt.timedelta(days=1)) for _, e in working_periods(cal, d)
    )


# --------------------------------------------------------------------------- properties


@settings(deadline=None)  # wall-clock deadlines flake on a loaded CI machine
@given(calendars, instants, instants, durations)
def test_monotonic_in_start(cal: BusinessCalendar, a: dt.datetime, b: dt.datetime,
                            d: dt.timedelta) -> None:
    a, b = min(a, b), max(a, b)
    assert add_business_duration(cal, a, d) <= add_business_duration(cal, b, d)


@settings(deadline=None)  # wall-clock deadlines flake on a loaded CI machine
@given(calendars, instants, durations, durations)
def test_monotonic_in_duration(cal: BusinessCalendar, t: dt.datetime, d1: dt.timedelta,
                               d2: dt.timedelta) -> None:
    d1, d2 = min(d1, d2), max(d1, d2)
    assert add_business_duration(cal, t, d1) <= add_business_duration(cal, t, d2)


@settings(deadline=None)  # wall-clock deadlines flake on a loaded CI machine
@given(calendars, instants, durations, durations)
def test_adding_composes(cal: BusinessCalendar, t: dt.datetime, a: dt.timedelta,
                         b: dt.timedelta) -> None:
    assert add_business_duration(cal, add_business_duration(cal, t, a), b) == (
        add_business_duration(cal, t, a + b)
    )


@settings(deadline=None)  # wall-clock deadlines flake on a loaded CI machine
@given(calendars, instants, positive)
def test_deadline_never_inside_non_working_time(cal: BusinessCalendar, t: dt.datetime,
                                                d: dt.timedelta) -> None:
    deadline = add_business_duration(cal, t, d)
    assert deadline > t
    assert is_working_time(cal, deadline) or _at_period_end(cal, deadline)


@settings(deadline=None)  # wall-clock deadlines flake on a loaded CI machine
@given(calendars, instants, durations)
def test_between_inverts_add(cal: BusinessCalendar, t: dt.datetime, d: dt.timedelta) -> None:
    assert business_duration_between(cal, t, add_business_duration(cal, t, d)) == d


@settings(deadline=None)  # wall-clock deadlines flake on a loaded CI machine
@given(calendars, instants, instants)
def test_between_is_antisymmetric_and_bounded(cal: BusinessCalendar, a: dt.datetime,
                                              b: dt.datetime) -> None:
    ab = business_duration_between(cal, a, b)
    assert ab == -business_duration_between(cal, b, a)
    assert abs(ab) <= abs(b - a)


@settings(deadline=None)  # wall-clock deadlines flake on a loaded CI machine
@given(instants, durations)
def test_24x7_is_calendar_time(t: dt.datetime, d: dt.timedelta) -> None:
    assert add_business_duration(ALWAYS, t, d) == t + d
    assert business_duration_between(ALWAYS, t, t + d) == d
    assert is_working_time(ALWAYS, t)


@settings(max_examples=50, deadline=None)
@given(calendars, instants)
def test_result_is_utc_and_input_zone_irrelevant(cal: BusinessCalendar, t: dt.datetime) -> None:
    d = dt.timedelta(hours=5)
    r1 = add_business_duration(cal, t, d)
    r2 = add_business_duration(cal, t.astimezone(SH), d)
    assert r1 == r2
    assert r1.tzinfo is UTC


# --------------------------------------------------------------------------- examples


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=SH)


def test_national_day_2025_holidays_and_adjusted_working_days() -> None:
    cal = SHANGHAI_CN
    assert is_working_time(cal, sh(2025, 9, 28, 10))  # Sunday, 调休 working day
    assert is_working_time(cal, sh(2025, 10, 11, 10))  # Saturday, 调休 working day
    for day in range(1, 9):  # 1-8 October: National Day + Mid-Autumn
        assert not is_working_time(cal, sh(2025, 10, day, 10))
    assert working_periods(cal, dt.date(2025, 10, 4)) == ()
    assert is_working_time(cal, sh(2025, 10, 9, 9))
    assert not is_working_time(cal, sh(2025, 10, 9, 12, 30))  # lunch break
    assert not is_working_time(cal, sh(2025, 10, 9, 18))  # period end is exclusive


def test_deadline_skips_the_golden_week() -> None:
    cal = SHANGHAI_CN
    # Tue 30 Sep 17:00 + 2h: one hour left that day, the next hour on Thu 9 Oct.
    assert add_business_duration(cal, sh(2025, 9, 30, 17), dt.timedelta(hours=2)) == sh(
        2025, 10, 9, 10
    )
    # Fri 10 Oct 17:00 + 2h lands on Saturday 11 Oct, a 调休 working day.
    assert add_business_duration(cal, sh(2025, 10, 10, 17), dt.timedelta(hours=2)) == sh(
        2025, 10, 11, 10
    )
    # Sat 27 Sep (rest day) → Sunday 28 Sep (working day) 09:00 + 1h.
    assert add_business_duration(cal, sh(2025, 9, 27, 10), dt.timedelta(hours=1)) == sh(
        2025, 9, 28, 10
    )
    # A whole week of calendar time holds only one working day (30 Sep: 7.5 h).
    assert business_duration_between(cal, sh(2025, 9, 30, 0), sh(2025, 10, 9, 0)) == (
        dt.timedelta(hours=7, minutes=30)
    )
    # Ending exactly at 18:00 stays at 18:00, it does not jump to the next morning.
    assert add_business_duration(cal, sh(2025, 9, 30, 17), dt.timedelta(hours=1)) == sh(
        2025, 9, 30, 18
    )


def test_overrides_from_data_win_over_the_package() -> None:
    cal = CalendarSpec(
        name="x", extra_holidays=(dt.date(2025, 10, 9),), extra_workdays=(dt.date(2025, 10, 4),)
    ).build()
    assert is_working_time(cal, sh(2025, 10, 4, 10))  # Saturday in the holiday, forced on
    assert not is_working_time(cal, sh(2025, 10, 9, 10))  # forced off
    assert add_business_duration(cal, sh(2025, 10, 8, 10), dt.timedelta(hours=1)) == sh(
        2025, 10, 10, 10
    )


def test_years_outside_chinese_calendar_fall_back_to_weekdays() -> None:
    cal = SHANGHAI_CN
    assert is_working_time(cal, sh(2031, 1, 1, 10))  # Wednesday: no holiday data, weekday rule
    assert not is_working_time(cal, sh(2031, 1, 4, 10))  # Saturday
    assert is_working_time(cal, sh(2001, 1, 2, 10))  # before the data starts
    # Data override still applies in fallback years.
    assert is_working_time(SHANGHAI_SAT, sh(2031, 1, 5, 10))  # Sunday forced on


def test_dst_days_count_real_hours() -> None:
    cal = BERLIN_NIGHT
    spring, autumn = dt.date(2025, 3, 30), dt.date(2025, 10, 26)
    def total(day: dt.date) -> dt.timedelta:
        return sum((e - s for s, e in working_periods(cal, day)), dt.timedelta())
    # 01:00-04:00 local is 2h on the spring-forward night, 4h on the fall-back night.
    assert total(spring) == dt.timedelta(hours=4)  # 2h + 22:00-24:00
    assert total(autumn) == dt.timedelta(hours=6)
    assert total(dt.date(2025, 6, 1)) == dt.timedelta(hours=5)


def test_naive_and_negative_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="naive"):
        add_business_duration(SHANGHAI_CN, dt.datetime(2025, 1, 2), dt.timedelta(hours=1))
    with pytest.raises(ValueError, match="negative"):
        add_business_duration(SHANGHAI_CN, sh(2025, 1, 2), -dt.timedelta(hours=1))


def test_invalid_calendars_are_rejected() -> None:
    with pytest.raises(ValueError, match="time zone"):
        CalendarSpec(name="bad", tz="Mars/Olympus")
    with pytest.raises(ValueError, match="HH:MM"):
        CalendarSpec(name="bad", hours=("9 to 5",))
    with pytest.raises(ValueError, match="overlap"):
        CalendarSpec(name="bad", hours=("09:00-12:00", "11:00-13:00"))
    with pytest.raises(PolicyError, match="no working hours"):
        BusinessCalendar(name="bad", weekend=frozenset(range(7)))


def test_add_is_fast_enough_for_thousands_of_timers() -> None:
    import time

    start = dt.datetime(2025, 9, 1, tzinfo=UTC)
    t0 = time.perf_counter()
    for i in range(5000):
        add_business_duration(
            SHANGHAI_CN, start + dt.timedelta(minutes=7 * i), dt.timedelta(minutes=2400)
        )
    # Generous bound (≈ a few µs each in practice); catches minute-by-minute iteration.
    assert time.perf_counter() - t0 < 2.0
