"""Daily hours and weekly shifts, one type each for every roster and quiet period (notify's directory,
the EOMS organisation).

`DailyHours` reads ``08:30-17:30`` or ``22:00-08:00`` (crossing midnight; the end is exclusive); equal ends
(``08:30-08:30``) are a full day. A malformed value is refused at load with the value quoted.

`WeeklyHours` is a shift's time: `days` (`Weekdays`: ``mon-fri``, ``sat,sun``, ``fri-mon``, ``daily``/``all``/``*``,
or the numbers 0 (Monday) .. 6) and `hours`; `covers(local)` says whether a local time falls in it, a shift
crossing midnight belonging to the day it starts (a ``mon 18:00-08:30`` shift covers Tuesday 07:00). A roster's
shift derives from it and adds who works it.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, Field, model_validator

from backbone.shapes import FrozenModel


def parse_hhmm(value: str) -> time:
    hh, sep, mm = value.strip().partition(":")
    if not sep or not hh.isdigit() or not mm.isdigit():
        raise ValueError(f"a time is HH:MM, not {value!r}")
    return time(int(hh), int(mm))


class DailyHours(FrozenModel):
    start: time
    end: time

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            start, sep, end = value.partition("-")
            if not sep:
                raise ValueError(f"hours look like 08:30-17:30 or 22:00-08:00, not {value!r}")
            return {"start": parse_hhmm(start), "end": parse_hhmm(end)}
        return value

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def contains(self, t: time) -> bool:
        t = t.replace(tzinfo=None)
        if self.crosses_midnight:
            return t >= self.start or t < self.end
        return self.start <= t < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_weekdays(value: Any) -> Any:
    """``mon-fri``, ``sat,sun``, ``fri-mon`` (wrapping the week) or ``daily`` as weekday numbers 0 (Monday) .. 6,
    sorted; anything but a string is left to the field's type."""
    if not isinstance(value, str):
        return value
    days: list[int] = []
    for chunk in value.lower().replace(" ", "").split(","):
        if chunk in ("daily", "all", "*"):
            days.extend(range(7))
        elif "-" in chunk:
            a, _, b = chunk.partition("-")
            if a not in WEEKDAYS or b not in WEEKDAYS:
                raise ValueError(f"unknown weekday in {chunk!r} (mon..sun)")
            i, j = WEEKDAYS.index(a), WEEKDAYS.index(b)
            days.extend(range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)])
        elif chunk in WEEKDAYS:
            days.append(WEEKDAYS.index(chunk))
        else:
            raise ValueError(f"unknown weekday {chunk!r} (mon..sun, daily)")
    return tuple(sorted(set(days)))


Weekdays = Annotated[
    tuple[int, ...],
    BeforeValidator(parse_weekdays),
    Field(description="weekdays 0 (Monday) .. 6: given as mon-fri, sat,sun or daily"),
]


class WeeklyHours(FrozenModel):
    """The days and daily hours a shift holds."""

    days: Weekdays
    hours: DailyHours

    def covers(self, local: datetime) -> bool:
        """Whether the local time ``local`` falls in the shift (the night part of a shift crossing midnight
        belongs to the day it started)."""
        t = local.time()
        if not self.hours.contains(t):
            return False
        if self.hours.crosses_midnight and t < self.hours.end:
            return (local.weekday() - 1) % 7 in self.days  # the night shift of the day before
        return local.weekday() in self.days


__all__ = ["WEEKDAYS", "DailyHours", "Weekdays", "WeeklyHours", "parse_hhmm", "parse_weekdays"]
