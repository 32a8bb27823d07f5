"""The start path's shortcuts give exactly what the plain arithmetic gives (hypothesis):

- `add_business_durations` (every due time of a timer in one walk of the calendar) is
  `add_business_duration` per duration, to the microsecond, in any order of the durations;
- `start_timer` with its per-policy schedule memo builds the timer the schedule and the calendar say.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backbone.vocabulary import Tier
from sla.domain.calendar import (
    BusinessCalendar,
    CalendarSpec,
    HolidaySource,
    add_business_duration,
    add_business_durations,
    parse_hours,
)
from sla.domain.policy import DEFAULT_POLICY_PATH, ResolvedPolicy, load_policy_set, resolve, snapshot
from sla.domain.timer import _build_schedule, start_timer

UTC = dt.UTC
CALENDARS = [
    BusinessCalendar(name="cn_office"),
    # Crosses both DST transitions and midnight (periods 01:00-04:00 and 22:00-24:00 in Berlin).
    BusinessCalendar(name="berlin_night", tz=ZoneInfo("Europe/Berlin"), week_hours=(((60, 240), (1320, 1440)),) * 7,
                     weekend=frozenset(), holidays=HolidaySource.NONE),
    BusinessCalendar(name="berlin_office", tz=ZoneInfo("Europe/Berlin"),
                     week_hours=(parse_hours(["08:00-12:00", "13:00-17:00"]),) * 7, holidays=HolidaySource.NONE),
    CalendarSpec(name="cn_network_ops", hours=("08:30-12:00", "13:00-20:00"), weekday_hours={"sat": ("09:00-12:00",)},
                 weekend=("sun",)).build(),
    BusinessCalendar.always(),
]
instants = st.datetimes(min_value=dt.datetime(2002, 6, 1), max_value=dt.datetime(2029, 6, 1), timezones=st.just(UTC))
durations = st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=12))


@settings(deadline=None)  # wall-clock deadlines flake on a loaded machine
@given(st.sampled_from(CALENDARS), instants, st.lists(durations, max_size=12))
def test_one_walk_equals_one_addition_per_duration(cal: BusinessCalendar, t: dt.datetime,
                                                   ds: list[dt.timedelta]) -> None:
    assert add_business_durations(cal, t, ds) == [add_business_duration(cal, t, d) for d in ds]


def test_one_walk_refuses_what_one_addition_refuses() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_business_durations(CALENDARS[0], dt.datetime(2025, 1, 2, tzinfo=UTC), [dt.timedelta(hours=-1)])
    with pytest.raises(ValueError, match="naive"):
        add_business_durations(CALENDARS[0], dt.datetime(2025, 1, 2), [dt.timedelta(hours=1)])


DEFAULT = load_policy_set(DEFAULT_POLICY_PATH)
POLICIES = [snapshot(DEFAULT, rule.id) for rule in DEFAULT.rules]


@settings(deadline=None, max_examples=200)
@given(st.sampled_from(POLICIES), instants)
def test_start_timer_schedules_every_action_through_the_calendar(policy: ResolvedPolicy, t: dt.datetime) -> None:
    cal = policy.business_calendar()
    timer = start_timer("tkt_1", "node", policy, t)
    expected = _build_schedule(policy)
    assert [a.key for a in timer.schedule] == [a.key for a in expected]
    assert [a.model_copy(update={"due_at": None}) for a in timer.schedule] == list(expected)
    assert [a.due_at for a in timer.schedule] == [add_business_duration(cal, t, a.offset) for a in expected]
    assert timer.deadline == add_business_duration(cal, t, policy.limit)
    assert timer.next_fire_at == min(a.due_at for a in timer.schedule if a.due_at is not None)
    # The memoised schedule is never shared mutable state: a second start is independent of the first.
    again = start_timer("tkt_2", "node", policy, t + dt.timedelta(hours=1))
    assert [a.due_at for a in timer.schedule] == [add_business_duration(cal, t, a.offset) for a in expected]
    assert again.ticket_id == "tkt_2"


def test_a_policy_of_the_same_name_but_other_content_gets_its_own_schedule() -> None:
    rp = snapshot(DEFAULT, resolve(DEFAULT, "vpmn.complaint", "complaint_fault", "preliminary_diagnosis", Tier.A,
                                   "network_staff").rule_id)
    other = rp.model_copy(update={"limit_minutes": rp.limit_minutes * 2})
    at = dt.datetime(2025, 6, 3, 2, tzinfo=UTC)
    assert start_timer("t", "n", rp, at).deadline != start_timer("t", "n", other, at).deadline
