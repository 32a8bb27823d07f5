"""SLA timer per (ticket, node): a pure, immutable state machine.

Every transition takes a timer and returns a new one. Time on the timer's clock is
"elapsed business time": ``consumed`` before ``anchor_at`` plus the working time from
``anchor_at`` to now while running. Each scheduled action (warnings, breach, escalation
levels) fires when elapsed time reaches its ``offset``; its wall-clock ``due_at`` is
derived through the calendar at start/resume and cleared while paused, so pausing
preserves the remaining time exactly.

States: running → (paused ⇄ running) → met | warned → breached → escalated(level n);
cancelled from any non-final state. A completed timer that was late keeps its
breached/escalated state with ``met_late = True``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar

from pydantic import TypeAdapter

from backbone.shapes import FrozenModel
from sla.domain.calendar import (
    ZERO,
    CalendarMode,
    add_business_duration,
    add_business_durations,
    business_duration_between,
    is_working_time,
    next_change,
)
from sla.domain.errors import IllegalTransition, TimeOrderError
from sla.domain.policy import ResolvedPolicy

UTC = dt.UTC


class TimerState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    WARNED = "warned"
    BREACHED = "breached"
    ESCALATED = "escalated"
    MET = "met"
    CANCELLED = "cancelled"


class ActionKind(StrEnum):
    WARNING = "warning"
    BREACH = "breach"
    ESCALATION = "escalation"


_KIND_RANK = {ActionKind.WARNING: 0, ActionKind.BREACH: 1, ActionKind.ESCALATION: 2}


class ScheduledAction(FrozenModel):
    key: str  # stable and unique per timer, e.g. "warning:80%", "breach", "escalation:2"
    kind: ActionKind
    offset: dt.timedelta  # elapsed business time at which it is due
    level: int | None = None
    notify_role: str | None = None
    due_at: dt.datetime | None = None  # None while the timer is paused before it
    fired_at: dt.datetime | None = None
    superseded: bool = False  # a warning skipped because the breach was due with it

    @property
    def done(self) -> bool:
        return self.fired_at is not None


class Action(FrozenModel):
    """An action that is due, for the caller to publish (sla.alerts)."""

    ticket_id: str
    node: str
    key: str
    kind: ActionKind
    due_at: dt.datetime
    level: int | None = None
    notify_role: str | None = None


class SlaTimer(FrozenModel):
    ticket_id: str
    node: str
    policy: ResolvedPolicy
    state: TimerState
    escalation_level: int = 0
    started_at: dt.datetime
    anchor_at: dt.datetime  # start of the current running stretch (or the pause instant)
    consumed: dt.timedelta  # business time elapsed before anchor_at
    deadline: dt.datetime  # last computed; while paused, `remaining` is authoritative
    paused_at: dt.datetime | None = None
    remaining: dt.timedelta | None = None  # business time left, recorded at pause
    completed_at: dt.datetime | None = None
    cancelled_at: dt.datetime | None = None
    met_late: bool | None = None
    last_event_at: dt.datetime
    schedule: tuple[ScheduledAction, ...]
    next_fire_at: dt.datetime | None  # earliest pending due_at; index for the scheduler

    @property
    def is_final(self) -> bool:
        return self.completed_at is not None or self.cancelled_at is not None


# --------------------------------------------------------------------------- helpers


def _utc(t: dt.datetime) -> dt.datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"naive datetime {t!r}: an aware datetime is required")
    return t.astimezone(UTC)


def _build_schedule(policy: ResolvedPolicy) -> tuple[ScheduledAction, ...]:
    limit = policy.limit
    acts: list[ScheduledAction] = []
    for p in policy.warnings.percent:
        acts.append(
            ScheduledAction(key=f"warning:{p:g}%", kind=ActionKind.WARNING, offset=limit * p / 100)
        )
    for m in policy.warnings.minutes_before:
        acts.append(
            ScheduledAction(
                key=f"warning:{m:g}m_before",
                kind=ActionKind.WARNING,
                offset=limit - dt.timedelta(minutes=m),
            )
        )
    acts.append(ScheduledAction(key="breach", kind=ActionKind.BREACH, offset=limit))
    for esc in policy.escalation:
        acts.append(
            ScheduledAction(
                key=f"escalation:{esc.level}",
                kind=ActionKind.ESCALATION,
                offset=limit + dt.timedelta(minutes=esc.after_minutes),
                level=esc.level,
                notify_role=esc.notify_role,
            )
        )
    # Identical keys (e.g. 50% listed twice) would fire twice: keep the first.
    uniq = {a.key: a for a in reversed(acts)}
    return tuple(sorted(uniq.values(), key=_order))


# What is the same for every timer started under a policy (its schedule's offsets and keys; its stored started
# timer, `_stored_start_of`) is built once per ResolvedPolicy object (the PolicyCatalog hands out one per version
# and rule). Keyed by identity, the policy kept alive beside the value so an id is never reused for another;
# bounded.
_T = TypeVar("_T")


def _per_policy(cache: dict[int, tuple[ResolvedPolicy, _T]], policy: ResolvedPolicy,
                build: Callable[[ResolvedPolicy], _T]) -> _T:
    hit = cache.get(id(policy))
    if hit is not None and hit[0] is policy:
        return hit[1]
    if len(cache) >= 1024:
        cache.clear()
    value = build(policy)
    cache[id(policy)] = (policy, value)
    return value


_SCHEDULES: dict[int, tuple[ResolvedPolicy, tuple[ScheduledAction, ...]]] = {}


def _schedule_of(policy: ResolvedPolicy) -> tuple[ScheduledAction, ...]:
    return _per_policy(_SCHEDULES, policy, _build_schedule)


def _due_at(a: ScheduledAction, due_at: dt.datetime | None) -> ScheduledAction:
    """`a` with another due time (validated in pydantic's core: faster than `model_copy`, and starts and
    resumes do this for every action)."""
    return ScheduledAction.model_validate({**a.__dict__, "due_at": due_at})


def _order(a: ScheduledAction) -> tuple[dt.timedelta, int, int]:
    return (a.offset, _KIND_RANK[a.kind], a.level or 0)


def _next_fire(schedule: tuple[ScheduledAction, ...]) -> dt.datetime | None:
    pending = [a.due_at for a in schedule if not a.done and a.due_at is not None]
    return min(pending) if pending else None


def _phase(schedule: tuple[ScheduledAction, ...]) -> tuple[TimerState, int]:
    """Running-side state implied by the actions fired so far."""
    return _phase_of([(a.kind, a.level) for a in schedule if a.done and not a.superseded])


def _phase_of(fired: list[tuple[str, int | None]]) -> tuple[TimerState, int]:
    """`_phase` from the (kind, level) of each action fired and not superseded (a timer's or its stored form's)."""
    levels = [level or 0 for kind, level in fired if kind == ActionKind.ESCALATION]
    if levels:
        return TimerState.ESCALATED, max(levels)
    if any(kind == ActionKind.BREACH for kind, _ in fired):
        return TimerState.BREACHED, 0
    if any(kind == ActionKind.WARNING for kind, _ in fired):
        return TimerState.WARNED, 0
    return TimerState.RUNNING, 0


def _check_time(timer: SlaTimer, at: dt.datetime) -> dt.datetime:
    at = _utc(at)
    if at < timer.last_event_at:
        raise TimeOrderError(
            f"timer {timer.ticket_id}/{timer.node}: event at {at.isoformat()} is before the "
            f"last event at {timer.last_event_at.isoformat()}",
            entity="timer", from_state=timer.state.value,
        )
    return at


def _require_open(timer: SlaTimer, op: str) -> None:
    if timer.is_final:
        raise IllegalTransition(
            f"cannot {op} timer {timer.ticket_id}/{timer.node}: it is {timer.state.value}"
            + (" (completed)" if timer.completed_at else ""),
            entity="timer", from_state=timer.state.value, action=op,
        )


def elapsed(timer: SlaTimer, at: dt.datetime) -> dt.timedelta:
    """Business time consumed by the timer up to ``at``."""
    if timer.is_final:
        return timer.consumed
    return _used(timer.policy, timer.state, timer.consumed, timer.anchor_at, at)


def _used(policy: ResolvedPolicy, state: TimerState, consumed: dt.timedelta, anchor_at: dt.datetime,
          at: dt.datetime) -> dt.timedelta:
    """`elapsed` of an open timer from the fields it needs (a timer's or its stored form's)."""
    if state is TimerState.PAUSED:
        return consumed
    return consumed + max(ZERO, business_duration_between(policy.business_calendar(), anchor_at, _utc(at)))


def remaining(timer: SlaTimer, at: dt.datetime) -> dt.timedelta:
    """Business time left before the deadline at ``at`` (negative once past it)."""
    return timer.policy.limit - elapsed(timer, at)


class Countdown(NamedTuple):
    """Where a timer stands at an instant, on its own clock (business time for a working-hours rule)."""

    used: dt.timedelta  # business time consumed
    remaining: dt.timedelta  # business time left before the deadline (negative past it)
    running: bool  # whether the clock counts at that instant (open, not paused, inside working time)
    changes_at: dt.datetime | None  # when it next starts or stops counting by itself (None: never)


def countdown_at(
    policy: ResolvedPolicy, state: TimerState, consumed: dt.timedelta, anchor_at: dt.datetime, *, final: bool,
    at: dt.datetime,
) -> Countdown:
    """`countdown` from the few fields it needs (a stored row's, without rebuilding the whole timer)."""
    at = _utc(at)
    if final or state is TimerState.PAUSED:
        return Countdown(consumed, policy.limit - consumed, False, None)
    cal = policy.business_calendar()
    used = consumed + max(ZERO, business_duration_between(cal, anchor_at, at))
    if cal.mode is CalendarMode.ALWAYS:
        return Countdown(used, policy.limit - used, True, None)
    return Countdown(used, policy.limit - used, is_working_time(cal, at), next_change(cal, at))


def countdown(timer: SlaTimer, at: dt.datetime) -> Countdown:
    """Business time used and left at ``at``, whether the clock is counting then and when that changes:
    enough for a screen to count down exactly without knowing the calendar (holidays included)."""
    return countdown_at(timer.policy, timer.state, timer.consumed, timer.anchor_at, final=timer.is_final, at=at)


# --------------------------------------------------------------------------- transitions


def start_timer(
    ticket_id: str, node: str, policy: ResolvedPolicy, at: dt.datetime
) -> SlaTimer:
    """Start a timer (on node_entered): computes the deadline and every action's due time."""
    at = _utc(at)
    template = _schedule_of(policy)
    # The deadline and every due time in one walk of the calendar.
    *dues, deadline = add_business_durations(
        policy.business_calendar(), at, [*(a.offset for a in template), policy.limit])
    schedule = tuple(_due_at(a, d) for a, d in zip(template, dues, strict=True))
    return SlaTimer(
        ticket_id=ticket_id,
        node=node,
        policy=policy,
        state=TimerState.RUNNING,
        started_at=at,
        anchor_at=at,
        consumed=ZERO,
        deadline=deadline,
        last_event_at=at,
        schedule=schedule,
        next_fire_at=_next_fire(schedule),
    )


def pause(timer: SlaTimer, at: dt.datetime) -> SlaTimer:
    """Pause (ticket pending): freeze elapsed business time; not-yet-due actions wait."""
    _require_open(timer, "pause")
    if timer.state is TimerState.PAUSED:
        raise IllegalTransition(f"timer {timer.ticket_id}/{timer.node} is already paused",
                                entity="timer", from_state=timer.state.value, action="pause")
    at = _check_time(timer, at)
    consumed = elapsed(timer, at)
    # Actions already due before the pause stay due (the scheduler may have lagged);
    # the others lose their wall-clock time until resume.
    schedule = tuple(
        a if a.done or a.offset <= consumed else a.model_copy(update={"due_at": None})
        for a in timer.schedule
    )
    return timer.model_copy(
        update={
            "state": TimerState.PAUSED,
            "anchor_at": at,
            "consumed": consumed,
            "paused_at": at,
            "remaining": timer.policy.limit - consumed,
            "last_event_at": at,
            "schedule": schedule,
            "next_fire_at": _next_fire(schedule),
        }
    )


def resume(timer: SlaTimer, at: dt.datetime) -> SlaTimer:
    """Resume: deadline and pending action times recomputed from the remaining time."""
    _require_open(timer, "resume")
    if timer.state is not TimerState.PAUSED:
        raise IllegalTransition(
            f"cannot resume timer {timer.ticket_id}/{timer.node}: it is {timer.state.value}",
            entity="timer", from_state=timer.state.value, action="resume",
        )
    at = _check_time(timer, at)
    cal = timer.policy.business_calendar()
    consumed = timer.consumed
    schedule = tuple(
        a.model_copy(update={"due_at": add_business_duration(cal, at, a.offset - consumed)})
        if not a.done and a.due_at is None
        else a
        for a in timer.schedule
    )
    left = timer.policy.limit - consumed
    # Past the limit the deadline is history; otherwise it moves by the paused time.
    deadline = add_business_duration(cal, at, left) if left > ZERO else timer.deadline
    state, level = _phase(schedule)
    return timer.model_copy(
        update={
            "state": state,
            "escalation_level": level,
            "anchor_at": at,
            "deadline": deadline,
            "paused_at": None,
            "remaining": None,
            "last_event_at": at,
            "schedule": schedule,
            "next_fire_at": _next_fire(schedule),
        }
    )


def complete(timer: SlaTimer, at: dt.datetime) -> SlaTimer:
    """Stop (node_completed). On time → met; late → stays/becomes breached, met_late=True.

    On time means elapsed business time <= limit (completing exactly at the deadline is
    on time). Pending notifications are dropped; call ``fire_due(timer, at)`` first to
    emit the ones that were already due.
    """
    _require_open(timer, "complete")
    stamped = _utc(at)
    # A completion is final and never refused for its time: stamped before the timer's last event
    # (an instance whose clock runs behind another's, an event that waited in a queue), it is judged
    # on its own time and applied at the last event's, so the timer's clock never runs backwards.
    # Refused, the node's timer would run on and escalate a finished node. (`completion_clamped`)
    at = max(stamped, timer.last_event_at)
    used = elapsed(timer, max(stamped, timer.anchor_at))
    state, level, late = _completed(_phase(timer.schedule), used, timer.policy.limit)
    return timer.model_copy(
        update={
            "state": state,
            "escalation_level": level,
            "consumed": used,
            "anchor_at": at,
            "completed_at": at,
            "met_late": late,
            "last_event_at": at,
            "next_fire_at": None,
        }
    )


def _completed(phase: tuple[TimerState, int], used: dt.timedelta, limit: dt.timedelta) -> tuple[TimerState, int, bool]:
    """A completion's state, escalation level and lateness, from the phase of the actions fired and the business
    time used by the completion's own time. Judged on that time, not on what the scheduler already sent: a
    completion that arrives after a breach alert but happened in time is still met on time."""
    late = used > limit
    state, level = phase
    if not late:
        state = TimerState.MET
    elif state not in (TimerState.BREACHED, TimerState.ESCALATED):
        state = TimerState.BREACHED
    return state, level, late


stop = complete


class StoredCompletion(NamedTuple):
    """`complete_stored`'s answer."""

    data: dict[str, Any]  # the completed timer in its stored form
    consumed: dt.timedelta  # its business time used (`data["consumed"]`)
    clamped: bool  # `completion_clamped`: applied at the last event's time


_DURATION: TypeAdapter[dt.timedelta] = TypeAdapter(dt.timedelta)


def _stored_time(value: str) -> dt.datetime:
    """A datetime of the stored form (pydantic's ISO 8601, UTC "Z"), aware in UTC."""
    t = dt.datetime.fromisoformat(value)
    return t if t.tzinfo is UTC else _utc(t)


# The stored form of a timer: `SlaTimer.model_dump(mode="json")` without its policy (the row's `state_data`, with
# the policy's version and rule beside it). The consumer's hot paths start and complete timers in it directly
# (`start_stored`, `complete_stored`): building the model, copying it and dumping it again was most of a start's
# and a stop's CPU in the service. Loaded back, it is the timer the model's way gives (the unit tests hold both
# ways to the same stored result).


def start_stored(ticket_id: str, node: str, policy: ResolvedPolicy, at: dt.datetime) -> dict[str, Any]:
    """`start_timer(ticket_id, node, policy, at)` in its stored form: its times computed as `start_timer` does,
    every other field as the policy's own started timer has it (`_stored_start_of`)."""
    at = _utc(at)
    template = _stored_start_of(policy)
    *dues, deadline = add_business_durations(
        policy.business_calendar(), at, [*(a.offset for a in _schedule_of(policy)), policy.limit])
    return {**template, "ticket_id": ticket_id, "node": node, "started_at": at, "anchor_at": at, "last_event_at": at,
            "deadline": deadline, "next_fire_at": min(dues, default=None),
            "schedule": [{**a, "due_at": d} for a, d in zip(template["schedule"], dues, strict=True)]}


_STORED_STARTS: dict[int, tuple[ResolvedPolicy, dict[str, Any]]] = {}


def _stored_start_of(policy: ResolvedPolicy) -> dict[str, Any]:
    """The stored form of a timer of `policy` started at an arbitrary time (`start_stored` replaces every time in
    it), once per policy (`_per_policy`)."""
    return _per_policy(_STORED_STARTS, policy, lambda p: start_timer("", "", p, dt.datetime(2000, 1, 1, tzinfo=UTC))
                       .model_dump(mode="json", exclude={"policy"}))


#: what a stored form holds when it is this version's whole dump (`complete_stored` reads it without the model)
_STORED_FIELDS = frozenset(SlaTimer.model_fields) - {"policy"}
_ACTION_FIELDS = frozenset(ScheduledAction.model_fields)


def complete_stored(data: dict[str, Any], policy: ResolvedPolicy, at: dt.datetime) -> StoredCompletion | None:
    """`complete(fire_due(timer, at)[0], at)` for an open timer in its stored form (`data`, decoded; changed in
    place) when it has nothing due by `at`, by the same rules (`_used`, `_phase_of`, `_completed`). None when it
    has something due, or is not open: the caller takes the model's way (`fire_due`, `complete`), which fires
    what is due or refuses, and when the stored form is not this version's whole dump (a field added since the
    row was written: the model fills its default)."""
    if not data.keys() >= _STORED_FIELDS or not all(a.keys() >= _ACTION_FIELDS for a in data["schedule"]):
        return None
    if data["completed_at"] is not None or data["cancelled_at"] is not None:
        return None
    stamped = _utc(at)
    next_fire_at = data["next_fire_at"]
    if next_fire_at is not None and _stored_time(next_fire_at) <= stamped:
        return None  # an action is due by the completion: fired first (`fire_due`)
    last_event_at, anchor_at = _stored_time(data["last_event_at"]), _stored_time(data["anchor_at"])
    done_at = max(stamped, last_event_at)
    used = _used(policy, TimerState(data["state"]), _DURATION.validate_python(data["consumed"]), anchor_at,
                 max(stamped, anchor_at))
    phase = _phase_of([(a["kind"], a["level"]) for a in data["schedule"]
                       if a["fired_at"] is not None and not a["superseded"]])
    state, level, late = _completed(phase, used, policy.limit)
    data.update(state=state.value, escalation_level=level, consumed=used, anchor_at=done_at, completed_at=done_at,
                met_late=late, last_event_at=done_at, next_fire_at=None)
    return StoredCompletion(data, used, stamped < last_event_at)


def completion_clamped(timer: SlaTimer, at: dt.datetime) -> bool:
    """Whether `complete(timer, at)` applies the completion at the last event's time (counted)."""
    return _utc(at) < timer.last_event_at


def cancel(timer: SlaTimer, at: dt.datetime) -> SlaTimer:
    """Cancel (ticket cancelled): final, nothing fires any more."""
    _require_open(timer, "cancel")
    at = _check_time(timer, at)
    return timer.model_copy(
        update={
            "state": TimerState.CANCELLED,
            "consumed": elapsed(timer, at),
            "anchor_at": at,
            "cancelled_at": at,
            "last_event_at": at,
            "next_fire_at": None,
        }
    )


# --------------------------------------------------------------------------- actions


def _due(timer: SlaTimer, now: dt.datetime) -> list[ScheduledAction]:
    # `next_fire_at` is the earliest pending due time (every transition sets it from the schedule, final ones to
    # None): a timer without one up to `now` has nothing due, and its schedule is not walked (a completion asks
    # this of every timer it stops, mostly with nothing due).
    if timer.is_final or timer.next_fire_at is None or timer.next_fire_at > now:
        return []
    return [a for a in timer.schedule if not a.done and a.due_at is not None and a.due_at <= now]


def due_actions(timer: SlaTimer, now: dt.datetime) -> list[Action]:
    """Actions due at ``now`` and not yet fired, in order (warnings, breach, levels).

    A warning that is due together with the breach is left out (it would be noise);
    ``fire_due`` marks it superseded so it never fires later either.
    """
    return _actions(timer, _due(timer, _utc(now)))


def _actions(timer: SlaTimer, due: list[ScheduledAction]) -> list[Action]:
    """The actions to emit for the scheduled actions `due` (`due_actions`)."""
    breach_due = any(a.kind is ActionKind.BREACH for a in due)
    return [
        Action(
            ticket_id=timer.ticket_id,
            node=timer.node,
            key=a.key,
            kind=a.kind,
            due_at=a.due_at,
            level=a.level,
            notify_role=a.notify_role,
        )
        for a in due
        if a.due_at is not None and not (breach_due and a.kind is ActionKind.WARNING)
    ]


def fire_due(timer: SlaTimer, now: dt.datetime) -> tuple[SlaTimer, list[Action]]:
    """Mark the due actions fired (each at most once) and advance the state."""
    now = _utc(now)
    due = _due(timer, now)  # once: a completion calls this for every timer it stops, mostly with nothing due
    if not due:
        return timer, []
    actions = _actions(timer, due)
    due_keys = {a.key for a in due}
    emitted = {a.key for a in actions}
    schedule = tuple(
        a.model_copy(update={"fired_at": now, "superseded": a.key not in emitted})
        if a.key in due_keys
        else a
        for a in timer.schedule
    )
    update: dict[str, object] = {
        "schedule": schedule,
        "next_fire_at": _next_fire(schedule),
    }
    if timer.state is not TimerState.PAUSED:
        update["state"], update["escalation_level"] = _phase(schedule)
    else:
        update["escalation_level"] = _phase(schedule)[1]
    return timer.model_copy(update=update), actions
