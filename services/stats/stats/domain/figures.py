"""The arithmetic of the figures, pure: local days, percentiles, rates.

Percentiles interpolate linearly between the closest ranks (PostgreSQL's `percentile_cont`, the
SLA service's node-time report, Python's `statistics.quantiles(method="inclusive")`), so the same
numbers read the same everywhere. Rates are percentages with two decimals; a rate of nothing is
None (no figure), never 0 or 100.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from backbone.vocabulary import OpportunityState

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_day(at: datetime, tz: ZoneInfo = SHANGHAI) -> date:
    """The local calendar day (Asia/Shanghai by default) of an aware instant."""
    if at.tzinfo is None:
        raise ValueError("an aware datetime is needed")
    return at.astimezone(tz).date()


def day_start(day: date, tz: ZoneInfo = SHANGHAI) -> datetime:
    """00:00 local of `day`, as a UTC instant."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0 <= q <= 1) by linear interpolation between closest ranks; None for no values."""
    if not 0.0 <= q <= 1.0:
        raise ValueError("q must be within [0, 1]")
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    frac = pos - lo
    return ordered[lo] + (ordered[hi] - ordered[lo]) * frac


def p90(values: Sequence[float]) -> float | None:
    return percentile(values, 0.9)


def mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def rate_pct(part: int, whole: int) -> float | None:
    """part / whole x 100, two decimals; None when there is nothing to judge."""
    if part < 0 or whole < 0 or part > whole:
        raise ValueError(f"a rate needs 0 <= part <= whole, got {part}/{whole}")
    return round(100.0 * part / whole, 2) if whole else None


def on_time_pct(on_time: int, judged: int) -> float | None:
    """Nodes met on time among the nodes the SLA judged (met on time or late)."""
    return rate_pct(on_time, judged)


def conversion_pct(converted: int, created: int) -> float | None:
    """Opportunities confirmed among those created in the period."""
    return rate_pct(converted, created)


def rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def days_between(start: date, end: date) -> list[date]:
    """Every day from `start` to `end`, both included."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def satisfaction_summary(scores: dict[int, int]) -> dict[str, float | int | None]:
    """Revisits by score (1..5) -> count, mean score, satisfied (4 or 5) and its %, count per score."""
    bad = [s for s in scores if s not in range(1, 6) or scores[s] < 0]
    if bad:
        raise ValueError(f"scores are 1..5 with counts >= 0, got {bad}")
    n = sum(scores.values())
    total = sum(s * c for s, c in scores.items())
    satisfied = scores.get(4, 0) + scores.get(5, 0)
    return {"revisits": n, "mean_score": round(total / n, 2) if n else None, "satisfied": satisfied,
            "satisfied_pct": rate_pct(satisfied, n), **{f"score_{s}": scores.get(s, 0) for s in range(1, 6)}}


def conversion_summary(by_status: dict[str, int]) -> dict[str, float | int | None]:
    """Opportunities of a cohort by current status -> created, confirmed, lost, open, conversion %."""
    created = sum(by_status.values())
    confirmed, lost = by_status.get(OpportunityState.CONFIRMED, 0), by_status.get(OpportunityState.LOST, 0)
    return {"created": created, "confirmed": confirmed, "lost": lost, "open": created - confirmed - lost,
            "conversion_pct": conversion_pct(confirmed, created)}


def timeliness_summary(durations: Sequence[float], verdicts: dict[str, int]) -> dict[str, float | int | None]:
    """Node times (seconds) and SLA verdicts (met_on_time, met_late, breached, escalated) -> the row."""
    on_time, late = verdicts.get("met_on_time", 0), verdicts.get("met_late", 0)
    return {"completed": len(durations), "mean_s": rounded(mean(durations)), "p90_s": rounded(p90(durations)),
            "judged": on_time + late, "on_time": on_time, "late": late,
            "on_time_pct": on_time_pct(on_time, on_time + late),
            "breaches": verdicts.get("breached", 0), "escalations": verdicts.get("escalated", 0)}
