"""Business calendars and pure deadline arithmetic.

A ``BusinessCalendar`` says, for every local date, which local time ranges are working
time. Deadline arithmetic works on those ranges converted to UTC instants, one day at a
time (a non-working day contributes no range and is skipped in O(1)), so its cost is
proportional to the number of days spanned, never to minutes.

Conventions:
- all instants are timezone-aware; results are returned in UTC;
- a working period is half-open ``[start, end)``; a deadline may therefore land exactly on
  a period end (the last instant of work), never strictly inside non-working time;
- ``add_business_duration(cal, t, 0) == t`` even if ``t`` is outside working time.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar
from pydantic import Field, field_validator, model_validator

from backbone.shapes import FrozenClosedModel
from sla.domain.errors import PolicyError

UTC = dt.UTC
ZERO = dt.timedelta(0)
DEFAULT_TZ = "Asia/Shanghai"

# A working period as minutes from local midnight, [start, end), 0 <= start < end <= 1440.
Period = tuple[int, int]
DayPeriods = tuple[Period, ...]
UtcPeriods = tuple[tuple[dt.datetime, dt.datetime], ...]

DEFAULT_HOURS: DayPeriods = ((9 * 60, 12 * 60), (13 * 60 + 30, 18 * 60))
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Longest run of days searched for working time before giving up. Chinese holidays are at
# most ~9 consecutive days; this only protects against a calendar with no working time.
MAX_SCAN_DAYS = 3 * 366


class CalendarMode(StrEnum):
    WORKING = "working"  # only working hours on working days count
    ALWAYS = "24x7"  # calendar time: every instant counts


class HolidaySource(StrEnum):
    CN = "cn"  # chinese_calendar: public holidays and 调休 working days
    NONE = "none"  # plain weekday rule (weekend set), plus data overrides


@dataclass(frozen=True, eq=False)
class BusinessCalendar:
    """Working-time definition of one calendar. Immutable; caches per-day periods.

    ``week_hours[i]`` are the hours of weekday ``i`` (Mon=0) *when that date is a working
    day*; whether a date is a working day comes from the holiday source, the weekend set
    (fallback / ``NONE`` source) and the ``extra_*`` overrides (which win).
    """

    name: str
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TZ))
    mode: CalendarMode = CalendarMode.WORKING
    week_hours: tuple[DayPeriods, ...] = (DEFAULT_HOURS,) * 7
    weekend: frozenset[int] = frozenset({5, 6})
    holidays: HolidaySource = HolidaySource.CN
    extra_holidays: frozenset[dt.date] = frozenset()
    extra_workdays: frozenset[dt.date] = frozenset()
    _workday_cache: dict[dt.date, bool] = field(default_factory=dict, repr=False)
    _period_cache: dict[dt.date, UtcPeriods] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if len(self.week_hours) != 7:
            raise PolicyError(f"calendar {self.name!r}: week_hours needs 7 entries")
        for wd, periods in enumerate(self.week_hours):
            _check_periods(self.name, WEEKDAY_NAMES[wd], periods)
        if both := self.extra_holidays & self.extra_workdays:
            raise PolicyError(
                f"calendar {self.name!r}: dates both extra holiday and extra workday: "
                f"{sorted(both)}"
            )
        # Guard against endless scans: some regular weekday must have working hours.
        if self.mode is CalendarMode.WORKING and not any(
            self.week_hours[wd] for wd in range(7) if wd not in self.weekend
        ):
            raise PolicyError(f"calendar {self.name!r}: no working hours on any working weekday")

    @classmethod
    def always(cls, name: str = "24x7") -> BusinessCalendar:
        """Calendar-time clock: every instant is working time."""
        return cls(name=name, tz=ZoneInfo("UTC"), mode=CalendarMode.ALWAYS)

    def is_workday(self, day: dt.date) -> bool:
        cached = self._workday_cache.get(day)
        if cached is None:
            cached = self._compute_workday(day)
            self._workday_cache[day] = cached
        return cached

    def _compute_workday(self, day: dt.date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        if self.holidays is HolidaySource.CN:
            try:
                return bool(chinese_calendar.is_workday(day))
            except NotImplementedError:
                pass  # year outside the package's data: fall back to the weekday rule
        return day.weekday() not in self.weekend

    def periods_on(self, day: dt.date) -> UtcPeriods:
        """Working periods of local date ``day`` as sorted, disjoint UTC instants."""
        cached = self._period_cache.get(day)
        if cached is None:
            cached = self._compute_periods(day)
            self._period_cache[day] = cached
        return cached

    def _compute_periods(self, day: dt.date) -> UtcPeriods:
        if self.mode is CalendarMode.ALWAYS:
            return ((self._instant(day, 0), self._instant(day, 1440)),)
        if not self.is_workday(day):
            return ()
        out: list[tuple[dt.datetime, dt.datetime]] = []
        for s_min, e_min in self.week_hours[day.weekday()]:
            s, e = self._instant(day, s_min), self._instant(day, e_min)
            # Across a DST gap/fold local ranges can shrink or overlap in UTC: clamp so
            # the periods stay disjoint and increasing, which the arithmetic relies on.
            if out and s < out[-1][1]:
                s = out[-1][1]
            if e > s:
                out.append((s, e))
        return tuple(out)

    def _instant(self, day: dt.date, minute: int) -> dt.datetime:
        naive = dt.datetime(day.year, day.month, day.day) + dt.timedelta(minutes=minute)
        return naive.replace(tzinfo=self.tz).astimezone(UTC)

    def local_date(self, t: dt.datetime) -> dt.date:
        return t.astimezone(self.tz).date()


def _check_periods(cal: str, label: str, periods: DayPeriods) -> None:
    prev_end = -1
    for s, e in periods:
        if not (0 <= s < e <= 1440):
            raise PolicyError(f"calendar {cal!r}: bad working period {s}-{e} on {label}")
        if s < prev_end:
            raise PolicyError(f"calendar {cal!r}: working periods overlap or unsorted on {label}")
        prev_end = e


_RANGE_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_hours(ranges: Iterable[str]) -> DayPeriods:
    """Parse ``["09:00-12:00", "13:30-18:00"]`` (``24:00`` allowed as an end)."""
    out: list[Period] = []
    for text in ranges:
        m = _RANGE_RE.match(text)
        if not m:
            raise ValueError(f"bad working hours {text!r}, expected 'HH:MM-HH:MM'")
        sh, sm, eh, em = (int(g) for g in m.groups())
        if sm >= 60 or em >= 60:
            raise ValueError(f"bad working hours {text!r}")
        out.append((sh * 60 + sm, eh * 60 + em))
    return tuple(out)


# --------------------------------------------------------------------------- pure functions


def _utc(t: dt.datetime) -> dt.datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"naive datetime {t!r}: an aware datetime is required")
    return t.astimezone(UTC)


def is_working_time(calendar: BusinessCalendar, t: dt.datetime) -> bool:
    """True iff ``t`` lies inside a working period (half-open, so a period end is not)."""
    t = _utc(t)
    if calendar.mode is CalendarMode.ALWAYS:
        return True
    return any(s <= t < e for s, e in calendar.periods_on(calendar.local_date(t)))


def add_business_duration(
    calendar: BusinessCalendar, start: dt.datetime, duration: dt.timedelta
) -> dt.datetime:
    """The instant at which ``duration`` of working time has elapsed after ``start``."""
    t = _utc(start)
    if duration < ZERO:
        raise ValueError(f"negative duration {duration}")
    if calendar.mode is CalendarMode.ALWAYS or duration == ZERO:
        return t + duration
    remaining = duration
    day = calendar.local_date(t)
    one_day = dt.timedelta(days=1)
    for _ in range(MAX_SCAN_DAYS):
        for s, e in calendar.periods_on(day):
            if e <= t:
                continue
            cur = s if s > t else t
            avail = e - cur
            if remaining <= avail:
                return cur + remaining
            remaining -= avail
        day += one_day
    raise ValueError(f"calendar {calendar.name!r}: no working time within {MAX_SCAN_DAYS} days")


def add_business_durations(
    calendar: BusinessCalendar, start: dt.datetime, durations: Sequence[dt.timedelta]
) -> list[dt.datetime]:
    """``add_business_duration(calendar, start, d)`` for each ``d``, in one walk of the calendar: a
    timer's deadline and every action's due time are offsets from the same start (in any order).
    Each result is the one ``add_business_duration`` gives, to the microsecond."""
    t = _utc(start)
    if any(d < ZERO for d in durations):
        raise ValueError(f"negative duration in {list(durations)}")
    if calendar.mode is CalendarMode.ALWAYS:
        return [t + d for d in durations]
    out: list[dt.datetime] = [t] * len(durations)
    todo = sorted((d, i) for i, d in enumerate(durations) if d != ZERO)
    k, used = 0, ZERO  # todo[:k] placed; working time from t to the current period's start
    day = calendar.local_date(t)
    one_day = dt.timedelta(days=1)
    for _ in range(MAX_SCAN_DAYS):
        if k == len(todo):
            return out
        for s, e in calendar.periods_on(day):
            if e <= t:
                continue
            cur = s if s > t else t
            avail = e - cur
            while k < len(todo) and todo[k][0] - used <= avail:
                out[todo[k][1]] = cur + (todo[k][0] - used)
                k += 1
            used += avail
        day += one_day
    if k == len(todo):
        return out
    raise ValueError(f"calendar {calendar.name!r}: no working time within {MAX_SCAN_DAYS} days")


def business_duration_between(
    calendar: BusinessCalendar, a: dt.datetime, b: dt.datetime
) -> dt.timedelta:
    """Working time in ``[a, b)``; negative if ``b < a``."""
    a, b = _utc(a), _utc(b)
    if b < a:
        return -business_duration_between(calendar, b, a)
    if calendar.mode is CalendarMode.ALWAYS:
        return b - a
    total = ZERO
    day, last = calendar.local_date(a), calendar.local_date(b)
    one_day = dt.timedelta(days=1)
    while day <= last:
        for s, e in calendar.periods_on(day):
            lo = s if s > a else a
            hi = e if e < b else b
            if hi > lo:
                total += hi - lo
        day += one_day
    return total


def next_change(calendar: BusinessCalendar, t: dt.datetime) -> dt.datetime | None:
    """When the calendar's clock next starts or stops counting after ``t``: the end of the working
    period ``t`` lies in, else the start of the next one; None for a 24x7 calendar (it never stops)
    or when no working time comes within ``MAX_SCAN_DAYS``."""
    t = _utc(t)
    if calendar.mode is CalendarMode.ALWAYS:
        return None
    day = calendar.local_date(t)
    one_day = dt.timedelta(days=1)
    for _ in range(MAX_SCAN_DAYS):
        for s, e in calendar.periods_on(day):
            if s <= t < e:
                return e
            if s > t:
                return s
        day += one_day
    return None


def working_periods(calendar: BusinessCalendar, day: dt.date) -> UtcPeriods:
    """Working periods of local date ``day`` (UTC instants); empty on a non-working day."""
    return calendar.periods_on(day)


# --------------------------------------------------------------------------- data form

Weekday = Annotated[str, Field(pattern="^(mon|tue|wed|thu|fri|sat|sun)$")]


class CalendarSpec(FrozenClosedModel):
    """Calendar as policy data (YAML). ``build()`` gives the runtime ``BusinessCalendar``."""

    name: str = Field(min_length=1)
    mode: CalendarMode = CalendarMode.WORKING
    tz: str = DEFAULT_TZ
    hours: tuple[str, ...] = ("09:00-12:00", "13:30-18:00")
    weekday_hours: dict[Weekday, tuple[str, ...]] = Field(default_factory=dict)
    weekend: tuple[Weekday, ...] = ("sat", "sun")
    holidays: HolidaySource = HolidaySource.CN
    extra_holidays: tuple[dt.date, ...] = ()
    extra_workdays: tuple[dt.date, ...] = ()

    @field_validator("tz")
    @classmethod
    def _known_tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @model_validator(mode="after")
    def _buildable(self) -> CalendarSpec:
        try:
            self.build()
        except (ValueError, PolicyError) as exc:
            raise ValueError(f"calendar {self.name!r}: {exc}") from exc
        return self

    def build(self) -> BusinessCalendar:
        if self.mode is CalendarMode.ALWAYS:
            return BusinessCalendar.always(self.name)
        default = parse_hours(self.hours)
        per_day: Mapping[str, DayPeriods] = {
            k: parse_hours(v) for k, v in self.weekday_hours.items()
        }
        return BusinessCalendar(
            name=self.name,
            tz=ZoneInfo(self.tz),
            week_hours=tuple(per_day.get(n, default) for n in WEEKDAY_NAMES),
            weekend=frozenset(WEEKDAY_NAMES.index(n) for n in self.weekend),
            holidays=self.holidays,
            extra_holidays=frozenset(self.extra_holidays),
            extra_workdays=frozenset(self.extra_workdays),
        )


ALWAYS_SPEC = CalendarSpec(name="24x7", mode=CalendarMode.ALWAYS)

_built: dict[str, BusinessCalendar] = {}
# The same spec object asks again for every timer of its rule: by identity first (the spec kept alive
# beside its calendar, so an id is never reused for another), without serialising it to a key each time.
_by_spec: dict[int, tuple[CalendarSpec, BusinessCalendar]] = {}


def calendar_for(spec: CalendarSpec) -> BusinessCalendar:
    """Runtime calendar for a spec, memoised so its per-day caches are shared by timers."""
    hit = _by_spec.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    key = spec.model_dump_json()
    cal = _built.get(key)
    if cal is None:
        if len(_built) > 256:  # specs come from a few policy versions; just bound it
            _built.clear()
        cal = _built[key] = spec.build()
    if len(_by_spec) > 1024:
        _by_spec.clear()
    _by_spec[id(spec)] = (spec, cal)
    return cal
