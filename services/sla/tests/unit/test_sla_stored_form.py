"""The consumer's hot paths write timers in their stored form without building the model: a start
(`start_stored`) must store what `start_timer` dumped by `state_columns` stores, and a stop (`complete_stored`,
the common case: nothing due by the completion) what the model's way (`fire_due`, then `complete`) stores,
column for column, whatever the timer went through before (paused, resumed, actions fired, a working-hours
calendar, a completion stamped before its last event), with the same `sla.met` data. When something is due,
or the timer is not open, `complete_stored` declines (None) and the model's way fires or refuses."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic_core import from_json, to_jsonable_python

from sla.domain.policy import ResolvedPolicy, parse_policy_set, resolve, snapshot
from sla.domain.timer import (
    SlaTimer,
    cancel,
    complete,
    complete_stored,
    completion_clamped,
    fire_due,
    pause,
    resume,
    start_stored,
    start_timer,
)
from sla.services.timers import met_data, state_columns, stored_columns, stored_met_data

UTC = dt.UTC
MIN = dt.timedelta(minutes=1)
T0 = dt.datetime(2025, 6, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 Shanghai
ESCALATION = [{"level": 1, "notify_role": "supervisor", "after_minutes": 0},
              {"level": 2, "notify_role": "department_head", "after_minutes": 60}]
PS = parse_policy_set({
    "version": "v1",
    "calendars": [{"name": "office"}],
    "rules": [
        {"id": "wall", "clock": "calendar", "limit_minutes": 120,
         "warnings": {"percent": [50, 80], "minutes_before": [10]}, "escalation": ESCALATION},
        {"id": "work", "node": "work", "calendar": "office", "limit_minutes": 120,
         "warnings": {"percent": [50]}, "escalation": ESCALATION},
    ],
})
POLICIES = [snapshot(PS, resolve(PS, "m2m", "service_opening", node, "A", "staff").rule_id) for node in ("any", "work")]
ROW = SimpleNamespace(id="tmr_1", ticket_id="TK-1", ticket_kind="resource_confirmation",
                      business_type="dedicated_line_data.opening", role="staff", assignee=None, customer_id="cus_1",
                      customer_name="测试港务", customer_tier="A", customer_region="r1", account_manager_id="am_1",
                      correlation_id=None)


def _stored(t: SlaTimer) -> dict[str, Any]:
    """The timer as the row keeps it: `state_data` as PostgreSQL gives it back (JSONB: its own key order)."""
    data: dict[str, Any] = from_json(state_columns(t)["state_data"])
    return from_json(json.dumps(dict(sorted(data.items())), separators=(", ", ": ")))


def _columns(columns: dict[str, Any]) -> dict[str, Any]:
    """The row's new columns as their statement's parameter carries them (JSON: `backbone.arrays.json_rows`)."""
    return {**to_jsonable_python(columns), "state_data": json.loads(columns["state_data"])}


def _history(policy: ResolvedPolicy, steps: list[tuple[str, int]]) -> SlaTimer:
    """A timer started at T0 that went through `steps` (pause, resume, fire) at minutes after T0, in order;
    a step the timer refuses is skipped."""
    t = start_timer("TK-1", "n", policy, T0)
    at = T0
    for op, minutes in steps:
        at = at + minutes * MIN
        if op == "fire":
            t, _ = fire_due(t, at)
        elif op == "pause" and t.state.value != "paused":
            t = pause(t, at)
        elif op == "resume" and t.state.value == "paused":
            t = resume(t, at)
    return t


@given(policy=st.sampled_from(POLICIES),
       steps=st.lists(st.tuples(st.sampled_from(["pause", "resume", "fire"]), st.integers(0, 3000)), max_size=5),
       completed_min=st.integers(-60, 20000))
def test_a_stored_completion_stores_what_the_models_way_stores(policy: ResolvedPolicy, steps: list[tuple[str, int]],
                                                               completed_min: int) -> None:
    t = _history(policy, steps)
    at = T0 + completed_min * MIN
    stored = complete_stored(_stored(t), policy, at)
    fired, actions = fire_due(t, at)
    if actions:
        assert stored is None  # something due: the model's way fires it first
        return
    assert stored is not None
    done = complete(fired, at)
    assert stored.clamped == completion_clamped(fired, at)
    assert _columns(stored_columns(stored.data, stored.consumed)) == _columns(state_columns(done))
    assert SlaTimer.model_validate({**stored.data, "policy": policy}) == done
    built, expected = stored_met_data(ROW, stored, policy.policy_version), met_data(ROW, done)
    assert list(built.items()) == list(expected.items())


def test_a_timer_with_an_action_due_by_the_completion_is_left_to_the_model() -> None:
    t = start_timer("TK-1", "n", POLICIES[0], T0)  # the wall rule's first action: its 50 % warning, at 60 min
    assert complete_stored(_stored(t), POLICIES[0], T0 + 60 * MIN) is None
    assert complete_stored(_stored(t), POLICIES[0], T0 + 59 * MIN) is not None


def test_a_stored_form_missing_a_field_is_left_to_the_model() -> None:
    """A row written before a field was added: the model fills its default, the stored way does not guess."""
    stored = _stored(start_timer("TK-1", "n", POLICIES[0], T0))
    assert complete_stored(dict(stored), POLICIES[0], T0 + MIN) is not None
    assert complete_stored({k: v for k, v in stored.items() if k != "met_late"}, POLICIES[0], T0 + MIN) is None
    schedule = [{k: v for k, v in a.items() if k != "superseded"} for a in stored["schedule"]]
    assert complete_stored({**stored, "schedule": schedule}, POLICIES[0], T0 + MIN) is None


def test_a_final_timer_is_left_to_the_model() -> None:
    t = start_timer("TK-1", "n", POLICIES[0], T0)
    assert complete_stored(_stored(complete(t, T0 + MIN)), POLICIES[0], T0 + 2 * MIN) is None
    assert complete_stored(_stored(cancel(t, T0 + MIN)), POLICIES[0], T0 + 2 * MIN) is None


@given(policy=st.sampled_from(POLICIES),
       at=st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2035, 1, 1), timezones=st.just(UTC)))
def test_a_stored_start_stores_what_start_timer_stores(policy: ResolvedPolicy, at: dt.datetime) -> None:
    t = start_timer("TK-1", "n", policy, at)
    data = start_stored("TK-1", "n", policy, at)
    assert _columns(stored_columns(data)) == _columns(state_columns(t))
    assert SlaTimer.model_validate({**data, "policy": policy}) == t
    assert data["started_at"] == t.started_at


def test_a_stored_start_keeps_its_policys_template_unchanged() -> None:
    a = start_stored("TK-1", "n", POLICIES[0], T0)
    b = start_stored("TK-2", "n", POLICIES[0], T0 + 600 * MIN)
    assert a["ticket_id"] == "TK-1" and a["schedule"][0]["due_at"] != b["schedule"][0]["due_at"]
    assert start_stored("TK-1", "n", POLICIES[0], T0) == a
