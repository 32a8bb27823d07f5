"""A completion stamped before the timer's last event (the ticket's instances' clocks disagree, or the
event waited in a queue) is applied, never refused: refused, the node's timer ran on and escalated a
finished node. It is judged on its own time and applied at the last event's (the timer's clock never
runs backwards)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from sla.domain.policy import parse_policy_set, resolve
from sla.domain.timer import TimerState, complete, completion_clamped, fire_due, pause, resume, start_timer

UTC = dt.UTC
MIN = dt.timedelta(minutes=1)
T0 = dt.datetime(2025, 6, 2, 1, 0, tzinfo=UTC)
POLICY = resolve(parse_policy_set({"version": "v1", "rules": [
    {"id": "wall", "clock": "calendar", "limit_minutes": 120, "warnings": {"percent": [50]},
     "escalation": [{"level": 1, "notify_role": "supervisor", "after_minutes": 0}]}]}),
    "m2m", "service_opening", "any", "A", "staff")


def test_a_completion_stamped_before_the_start_is_met_not_refused() -> None:
    t = start_timer("TK-1", "n", POLICY, T0 + 2 * MIN)  # the entry's instance runs 2 min ahead
    assert completion_clamped(t, T0)
    done = complete(t, T0)
    assert done.state is TimerState.MET and done.met_late is False
    assert done.completed_at == T0 + 2 * MIN and done.next_fire_at is None


def test_a_completion_stamped_before_a_resume_is_judged_on_its_own_time() -> None:
    t = resume(pause(start_timer("TK-1", "n", POLICY, T0), T0 + 100 * MIN), T0 + 110 * MIN)
    done = complete(t, T0 + 105 * MIN)  # before the resume: paused then, 100 min used
    assert done.state is TimerState.MET and done.consumed == 100 * MIN
    assert done.last_event_at == T0 + 110 * MIN


def test_a_late_completion_stamped_before_the_last_event_is_still_late() -> None:
    t, _ = fire_due(start_timer("TK-1", "n", POLICY, T0), T0 + 130 * MIN)
    t = pause(t, T0 + 140 * MIN)
    done = complete(t, T0 + 135 * MIN)
    assert done.state is TimerState.ESCALATED and done.met_late is True


@given(skew_s=st.integers(min_value=0, max_value=7200), used_min=st.integers(min_value=0, max_value=240))
def test_completion_never_runs_the_timer_clock_backwards(skew_s: int, used_min: int) -> None:
    start = T0 + dt.timedelta(seconds=skew_s)
    t = start_timer("TK-1", "n", POLICY, start)
    done = complete(t, T0 + used_min * MIN)
    assert done.is_final and done.last_event_at >= start and done.completed_at == done.last_event_at
    assert done.met_late == (max(T0 + used_min * MIN, start) - start > 120 * MIN)
