"""Daily hours, one type for every roster and quiet period (notify's directory, the EOMS organisation).

`DailyHours` reads ``08:30-17:30`` or ``22:00-08:00`` (crossing midnight; the end is exclusive); equal ends
(``08:30-08:30``) are a full day. A malformed value is refused at load with the value quoted.
"""

from __future__ import annotations

from datetime import time
from typing import Any

from pydantic import model_validator

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


__all__ = ["DailyHours", "parse_hhmm"]
