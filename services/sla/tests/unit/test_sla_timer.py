"""SLA timer state machine: lifecycle, pause/resume, actions fire once, illegal transitions."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sla.domain.calendar import BusinessCalendar, business_duration_between, next_change
from sla.domain.errors import IllegalTransition, TimeOrderError
from sla.domain.policy import ResolvedPolicy, parse_policy_set, resolve
from sla.domain.timer import (
    ActionKind,
    SlaTimer,
    TimerState,
    cancel,
    complete,
    countdown,
    due_actions,
    elapsed,
    fire_due,
    pause,
    remaining,
    resume,
    start_timer,
)

UTC = dt.UTC
SH = ZoneInfo("Asia/Shanghai")
MIN = dt.timedelta(minutes=1)
T0 = dt.datetime(2025, 6, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 Shanghai

ESCALATION = [
    {"level": 1, "notify_role": "supervisor", "after_minutes": 0},
    {"level": 2, "notify_role": "department_head", "after_minutes": 60},
]
POLICIES = parse_policy_set(
    {
        "version": "v1",
        "calendars": [{"name": "office"}],
        "rules": [
            {"id": "wall", "clock": "calendar", "limit_minutes": 120,
             "warnings": {"percent": [50, 80], "minutes_before": [10]},
             "escalation": ESCALATION},
            {"id": "work", "node": "work", "calendar": "office", "limit_minutes": 120,
             "warnings": {"percent": [50]}, "escalation": ESCALATION},
        ],
    }
)
WALL = resolve(POLICIES, "m2m", "service_opening", "any", "A", "staff")
WORK = resolve(POLICIES, "m2m", "service_opening", "work", "A", "staff")


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=SH)


def new(policy: ResolvedPolicy = WALL, at: dt.datetime = T0) -> SlaTimer:
    return start_timer("TK-1", "resource_check", policy, at)


def keys(actions: list[Any]) -> list[str]:
    return [a.key for a in actions]


# --------------------------------------------------------------------------- lifecycle


def test_start_computes_deadline_and_schedule() -> None:
    t = new()
    assert t.state is TimerState.RUNNING
    assert t.deadline == T0 + 120 * MIN
    assert [(a.key, a.due_at) for a in t.schedule] == [
        ("warning:50%", T0 + 60 * MIN),
        ("warning:80%", T0 + 96 * MIN),
        ("warning:10m_before", T0 + 110 * MIN),
        ("breach", T0 + 120 * MIN),
        ("escalation:1", T0 + 120 * MIN),
        ("escalation:2", T0 + 180 * MIN),
    ]
    assert t.next_fire_at == T0 + 60 * MIN


def test_working_clock_deadline_uses_the_calendar() -> None:
    t = new(WORK, sh(2025, 9, 30, 17))  # 1h before the Golden Week
    assert t.deadline == sh(2025, 10, 9, 10)
    assert t.next_fire_at == sh(2025, 9, 30, 18)  # 50% = 60 working minutes


def test_each_action_fires_once_in_order_and_advances_state() -> None:
    t = new()
    assert due_actions(t, T0 + 59 * MIN) == []
    t, acts = fire_due(t, T0 + 60 * MIN)
    assert keys(acts) == ["warning:50%"] and t.state is TimerState.WARNED
    t, again = fire_due(t, T0 + 60 * MIN)
    assert again == [] and due_actions(t, T0 + 100 * MIN) != []
    t, acts = fire_due(t, T0 + 115 * MIN)
    assert keys(acts) == ["warning:80%", "warning:10m_before"]
    t, acts = fire_due(t, T0 + 120 * MIN)
    assert keys(acts) == ["breach", "escalation:1"]
    assert acts[1].notify_role == "supervisor" and acts[1].level == 1
    assert t.state is TimerState.ESCALATED and t.escalation_level == 1
    assert t.next_fire_at == T0 + 180 * MIN
    t, acts = fire_due(t, T0 + 500 * MIN)
    assert keys(acts) == ["escalation:2"] and t.escalation_level == 2
    assert t.next_fire_at is None
    assert fire_due(t, T0 + 10_000 * MIN)[1] == []


def test_overdue_batch_skips_warnings_superseded_by_the_breach() -> None:
    t, acts = fire_due(new(), T0 + 125 * MIN)  # scheduler was down for two hours
    assert keys(acts) == ["breach", "escalation:1"]
    assert [a.kind for a in acts] == [ActionKind.BREACH, ActionKind.ESCALATION]
    assert all(a.superseded for a in t.schedule if a.kind is ActionKind.WARNING)
    assert fire_due(t, T0 + 150 * MIN)[1] == []
    assert t.state is TimerState.ESCALATED


def test_complete_on_time_is_met() -> None:
    t, _ = fire_due(new(), T0 + 100 * MIN)
    t = complete(t, T0 + 120 * MIN)  # exactly at the deadline still counts as met
    assert t.state is TimerState.MET and t.met_late is False
    assert t.next_fire_at is None and t.is_final
    assert due_actions(t, T0 + 1000 * MIN) == []


def test_complete_late_stays_breached() -> None:
    t = complete(new(), T0 + 121 * MIN)  # breach not fired yet: still recorded as breached
    assert t.state is TimerState.BREACHED and t.met_late is True
    t, _ = fire_due(new(), T0 + 200 * MIN)
    t = complete(t, T0 + 200 * MIN)
    assert t.state is TimerState.ESCALATED and t.escalation_level == 2 and t.met_late is True


def test_cancel_stops_everything() -> None:
    t = cancel(new(), T0 + 10 * MIN)
    assert t.state is TimerState.CANCELLED and t.next_fire_at is None
    assert fire_due(t, T0 + 1000 * MIN)[1] == []


# --------------------------------------------------------------------------- pause / resume


def test_pause_resume_preserves_remaining_time() -> None:
    t = pause(new(), T0 + 30 * MIN)
    assert t.state is TimerState.PAUSED
    assert t.remaining == 90 * MIN
    assert t.next_fire_at is None  # nothing fires while the ticket is pending
    assert due_actions(t, T0 + 10_000 * MIN) == []
    resumed_at = T0 + 300 * MIN
    t = resume(t, resumed_at)
    assert t.state is TimerState.RUNNING
    assert t.deadline == resumed_at + 90 * MIN
    assert t.next_fire_at == resumed_at + 30 * MIN  # 50% warning: 60 - 30 consumed
    assert remaining(t, resumed_at) == 90 * MIN
    assert elapsed(t, t.deadline) == t.policy.limit


def test_pause_resume_across_holidays_on_a_working_clock() -> None:
    t = new(WORK, sh(2025, 9, 30, 16))
    t = pause(t, sh(2025, 9, 30, 16, 30))  # 30 working minutes used
    assert t.remaining == 90 * MIN
    t = resume(t, sh(2025, 10, 3, 10))  # resumed during the holiday: clock waits for 9 Oct
    assert t.deadline == sh(2025, 10, 9, 10, 30)


def test_resume_keeps_the_warned_state() -> None:
    t, _ = fire_due(new(), T0 + 60 * MIN)
    t = resume(pause(t, T0 + 70 * MIN), T0 + 80 * MIN)
    assert t.state is TimerState.WARNED
    assert t.next_fire_at == T0 + 80 * MIN + 26 * MIN  # 80% at 96 min, 70 consumed


def test_action_due_before_the_pause_still_fires_while_paused() -> None:
    t = pause(new(), T0 + 130 * MIN)  # scheduler missed the breach at +120
    assert t.next_fire_at == T0 + 60 * MIN  # the earliest missed action (50% warning)
    t, acts = fire_due(t, T0 + 131 * MIN)
    assert keys(acts) == ["breach", "escalation:1"]
    assert t.state is TimerState.PAUSED and t.next_fire_at is None
    t = resume(t, T0 + 200 * MIN)
    assert t.state is TimerState.ESCALATED
    assert t.next_fire_at == T0 + 250 * MIN  # escalation 2 at 180 elapsed, 130 consumed


def test_complete_while_paused_counts_time_until_the_pause() -> None:
    t = complete(pause(new(), T0 + 30 * MIN), T0 + 1000 * MIN)
    assert t.state is TimerState.MET and t.consumed == 30 * MIN


@given(st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=8))
def test_any_pause_resume_sequence_preserves_business_time(gaps: list[int]) -> None:
    """Alternate pause/resume at random minutes: running stretches sum to the elapsed time."""
    t, at, ran = new(WORK, sh(2025, 9, 26, 10)), sh(2025, 9, 26, 10), dt.timedelta(0)
    cal = WORK.business_calendar()
    for i, gap in enumerate(gaps):
        nxt = at + gap * MIN
        if i % 2 == 0:
            ran += business_duration_between(cal, at, nxt)
            t = pause(t, nxt)
            assert t.remaining == WORK.limit - ran
        else:
            t = resume(t, nxt)
            if ran < WORK.limit:
                assert elapsed(t, t.deadline) == WORK.limit
        at = nxt
    if t.state is TimerState.PAUSED:
        assert elapsed(t, at) == ran


def test_timer_round_trips_through_json_with_its_policy_snapshot() -> None:
    t, _ = fire_due(pause(new(WORK), T0 + 30 * MIN), T0 + 30 * MIN)
    back = SlaTimer.model_validate_json(t.model_dump_json())
    assert back == t
    assert resume(back, T0 + 60 * MIN).deadline == resume(t, T0 + 60 * MIN).deadline


def test_running_timer_keeps_its_policy_after_a_policy_change() -> None:
    t = new(WORK)
    newer = POLICIES.model_copy(update={"version": "v2"})
    assert resolve(newer, "m2m", "service_opening", "work", "A", "staff").policy_version == "v2"
    assert t.policy.policy_version == "v1"


# --------------------------------------------------------------------------- illegal


@pytest.mark.parametrize(
    ("setup", "op"),
    [
        (lambda: new(), lambda t: resume(t, T0 + MIN)),  # resume a running timer
        (lambda: pause(new(), T0 + MIN), lambda t: pause(t, T0 + 2 * MIN)),  # pause twice
        (lambda: complete(new(), T0 + MIN), lambda t: pause(t, T0 + 2 * MIN)),
        (lambda: complete(new(), T0 + MIN), lambda t: complete(t, T0 + 2 * MIN)),
        (lambda: complete(new(), T0 + MIN), lambda t: cancel(t, T0 + 2 * MIN)),
        (lambda: cancel(new(), T0 + MIN), lambda t: resume(t, T0 + 2 * MIN)),
        (lambda: cancel(new(), T0 + MIN), lambda t: cancel(t, T0 + 2 * MIN)),
        (lambda: cancel(new(), T0 + MIN), lambda t: complete(t, T0 + 2 * MIN)),
        (lambda: complete(new(), T0 + 200 * MIN), lambda t: resume(t, T0 + 300 * MIN)),
    ],
)
def test_illegal_transitions_raise(setup: Any, op: Any) -> None:
    t = setup()
    with pytest.raises(IllegalTransition):
        op(t)


def test_events_in_the_past_are_rejected() -> None:
    t = pause(new(), T0 + 30 * MIN)
    with pytest.raises(TimeOrderError):
        resume(t, T0 + 10 * MIN)


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="naive"):
        start_timer("TK", "n", WALL, dt.datetime(2025, 1, 1))


# --------------------------------------------------------------------------- countdown (the board's figures)


def test_countdown_on_a_working_clock_stops_over_lunch_and_says_when_it_resumes() -> None:
    t = start_timer("t1", "work", WORK, sh(2025, 6, 3, 11, 0))  # Tuesday 11:00, 120 working minutes
    before_lunch = countdown(t, sh(2025, 6, 3, 11, 30))
    assert before_lunch.used == 30 * MIN and before_lunch.remaining == 90 * MIN
    assert before_lunch.running and before_lunch.changes_at == sh(2025, 6, 3, 12, 0)
    lunch = countdown(t, sh(2025, 6, 3, 12, 45))
    assert lunch.used == 60 * MIN and not lunch.running and lunch.changes_at == sh(2025, 6, 3, 13, 30)
    next_morning = countdown(t, sh(2025, 6, 4, 9, 0))  # 60 + 270 minutes used on Tuesday
    assert next_morning.remaining == -210 * MIN and next_morning.running
    assert next_morning.changes_at == sh(2025, 6, 4, 12, 0)
    assert countdown(t, sh(2025, 6, 3, 20, 0)).changes_at == sh(2025, 6, 4, 9, 0)


def test_countdown_knows_statutory_holidays_and_make_up_days() -> None:
    # 2025-10-01..08 is the National Day holiday; Saturday 2025-09-27 and Saturday 2025-10-11 are make-up workdays.
    t = start_timer("t1", "work", WORK, sh(2025, 9, 30, 17, 0))  # Tuesday 17:00: one working hour that day
    holiday = countdown(t, sh(2025, 10, 3, 10, 0))
    assert holiday.used == 60 * MIN and not holiday.running
    assert holiday.changes_at == sh(2025, 10, 9, 9, 0), "the clock resumes on the first working day after it"
    assert next_change(WORK.business_calendar(), sh(2025, 10, 10, 19, 0)) == sh(2025, 10, 11, 9, 0)


def test_countdown_on_a_wall_clock_always_runs_and_a_paused_or_closed_timer_stands_still() -> None:
    t = start_timer("t1", "any", WALL, T0)
    c = countdown(t, T0 + 30 * MIN)
    assert c.used == 30 * MIN and c.remaining == 90 * MIN and c.running and c.changes_at is None
    paused = pause(t, T0 + 40 * MIN)
    p = countdown(paused, T0 + 5 * 60 * MIN)
    assert p.used == 40 * MIN and p.remaining == 80 * MIN and not p.running and p.changes_at is None
    done = complete(t, T0 + 150 * MIN)
    d = countdown(done, T0 + 600 * MIN)
    assert d.used == 150 * MIN and d.remaining == -30 * MIN and not d.running
    assert countdown(cancel(t, T0 + MIN), T0 + 60 * MIN).used == MIN


def test_next_change_on_a_24x7_calendar_is_never() -> None:
    assert next_change(BusinessCalendar.always(), T0) is None
