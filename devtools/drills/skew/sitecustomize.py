"""One process's clock moved by `DRILL_CLOCK_SKEW_S` seconds (the clock-skew drill puts this folder
first on the PYTHONPATH of one service replica; nothing else imports it). The wall clock only:
`time.time`, `time.time_ns` and `datetime.datetime.now` / `utcnow` (the monotonic clock, which event
loops and timeouts use, runs on), as an instance whose NTP is off would see it."""

from __future__ import annotations

import datetime as _dt
import os
import time as _time

_SKEW = float(os.environ.get("DRILL_CLOCK_SKEW_S", "0"))

if _SKEW:
    _real_time, _real_time_ns = _time.time, _time.time_ns
    _time.time = lambda: _real_time() + _SKEW
    _time.time_ns = lambda: _real_time_ns() + int(_SKEW * 1e9)

    class _SkewedDatetime(_dt.datetime):
        @classmethod
        def now(cls, tz: _dt.tzinfo | None = None) -> _SkewedDatetime:  # type: ignore[override]
            return super().now(tz) + _dt.timedelta(seconds=_SKEW)  # type: ignore[return-value]

        @classmethod
        def utcnow(cls) -> _SkewedDatetime:  # type: ignore[override]
            return super().utcnow() + _dt.timedelta(seconds=_SKEW)  # type: ignore[return-value]

    _dt.datetime = _SkewedDatetime  # type: ignore[misc]
