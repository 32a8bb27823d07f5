"""When a failed send is tried again: counted attempts for the message's faults, the age for an unreachable server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from backbone.workers import Backoff
from notify.dispatch.outcomes import Outcomes

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
BACKOFF = Backoff(initial_s=2.0, max_s=300.0)


def outcomes() -> Outcomes:
    return Outcomes(None, max_attempts=5, backoff=BACKOFF, unreachable_window_s=3600)  # type: ignore[arg-type]


def row(attempts: int, age_s: float) -> dict[str, object]:
    return {"id": "dlv_1", "attempts": attempts, "created_at": NOW - timedelta(seconds=age_s)}


def test_a_message_fault_fails_for_good_at_max_send_attempts() -> None:
    o = outcomes()
    assert o.retry_after(row(4, 10), unreachable=False, now=NOW) is not None
    assert o.retry_after(row(5, 10), unreachable=False, now=NOW) is None


def test_an_unreachable_server_never_uses_up_attempts_only_the_window() -> None:
    o = outcomes()
    assert o.retry_after(row(50, 3599), unreachable=True, now=NOW) is not None
    assert o.retry_after(row(1, 3600), unreachable=True, now=NOW) is None


@given(st.floats(min_value=0, max_value=3599))
def test_an_unreachable_retry_waits_about_half_the_rows_age_within_the_backoff_bounds(age_s: float) -> None:
    delay = outcomes().retry_after(row(1, age_s), unreachable=True, now=NOW)
    assert delay is not None
    expected = min(BACKOFF.max_s, max(BACKOFF.initial_s, age_s / 2))
    assert 0.8 * expected <= delay <= 1.2 * expected
