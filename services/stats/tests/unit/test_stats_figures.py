"""The figures' arithmetic (stats.domain.figures): percentiles, rates, summaries, local days."""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stats.domain import figures as f

finite = st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False)


def test_p90_by_hand() -> None:
    # 10 values 10..100: rank (10-1)*0.9 = 8.1 -> 90 + 0.1 * (100 - 90) = 91
    assert f.p90([float(v) for v in range(10, 101, 10)]) == pytest.approx(91.0)
    assert f.p90([5.0]) == 5.0
    assert f.p90([]) is None
    assert f.percentile([1.0, 3.0], 0.5) == 2.0


@given(st.lists(finite, min_size=2, max_size=60))
def test_percentile_matches_statistics_inclusive(values: list[float]) -> None:
    # PostgreSQL's percentile_cont and statistics.quantiles(method="inclusive") agree with ours.
    expected = statistics.quantiles(values, n=10, method="inclusive")[8]
    assert f.p90(values) == pytest.approx(expected, rel=1e-9, abs=1e-6)


@given(st.lists(finite, min_size=1, max_size=60), st.floats(min_value=0, max_value=1))
def test_percentile_within_bounds_and_monotone(values: list[float], q: float) -> None:
    p = f.percentile(values, q)
    assert p is not None
    assert min(values) - 1e-6 <= p <= max(values) + 1e-6
    assert f.percentile(values, 0.0) == min(values)
    assert f.percentile(values, 1.0) == max(values)
    lower = f.percentile(values, q / 2)
    assert lower is not None and lower <= p + 1e-6


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=10_000))
def test_rate_pct(a: int, b: int) -> None:
    part, whole = min(a, b), max(a, b)
    r = f.rate_pct(part, whole)
    if whole == 0:
        assert r is None
    else:
        assert r is not None and 0 <= r <= 100
        assert abs(r - 100 * part / whole) <= 0.005 + 1e-9


def test_rate_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        f.rate_pct(3, 2)
    with pytest.raises(ValueError):
        f.percentile([1.0], 1.5)


def test_summaries_by_hand() -> None:
    assert f.satisfaction_summary({5: 2, 4: 1, 2: 1}) == {
        "revisits": 4, "mean_score": 4.0, "satisfied": 3, "satisfied_pct": 75.0,
        "score_1": 0, "score_2": 1, "score_3": 0, "score_4": 1, "score_5": 2}
    assert f.conversion_summary({"confirmed": 2, "lost": 1, "open": 1}) == {
        "created": 4, "confirmed": 2, "lost": 1, "open": 1, "conversion_pct": 50.0}
    row = f.timeliness_summary([60.0, 120.0, 600.0], {"met_on_time": 2, "met_late": 1, "breached": 1,
                                                       "escalated": 2})
    assert row == {"completed": 3, "mean_s": 260.0, "p90_s": 504.0, "judged": 3, "on_time": 2, "late": 1,
                   "on_time_pct": 66.67, "breaches": 1, "escalations": 2}
    assert f.timeliness_summary([], {})["on_time_pct"] is None
    with pytest.raises(ValueError):
        f.satisfaction_summary({6: 1})


@given(st.dictionaries(st.integers(min_value=1, max_value=5), st.integers(min_value=0, max_value=500)))
def test_satisfaction_mean_between_scores(scores: dict[int, int]) -> None:
    s = f.satisfaction_summary(scores)
    if s["revisits"]:
        present = [k for k, v in scores.items() if v]
        assert min(present) - 0.005 <= s["mean_score"] <= max(present) + 0.005  # type: ignore[operator]
    else:
        assert s["mean_score"] is None


def test_local_day_is_shanghai() -> None:
    # 16:00Z is midnight in Shanghai: the next day there.
    assert f.local_day(datetime(2026, 3, 1, 15, 59, 59, tzinfo=UTC)) == date(2026, 3, 1)
    assert f.local_day(datetime(2026, 3, 1, 16, 0, tzinfo=UTC)) == date(2026, 3, 2)
    with pytest.raises(ValueError):
        f.local_day(datetime(2026, 3, 1))
    assert f.day_start(date(2026, 3, 2)) == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
