"""Ticket aggregate: TMF621-like state machine tables, node actions, events, history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eoms_bridge.domain.errors import (
    ActorNotAllowedError,
    IllegalTransitionError,
    MissingReasonError,
    UnknownOutcomeError,
)
from eoms_bridge.domain.events import (
    DomainEvent,
    NodeAssigned,
    NodeCompleted,
    NodeEntered,
    NodeReturned,
    StateChanged,
    TicketCancelled,
    TicketClosed,
    TicketCreated,
    TicketRejected,
    TicketResolved,
)
from eoms_bridge.domain.ticket import (
    ACTION_STATES,
    TRANSITIONS,
    Actor,
    Ticket,
    TicketAction,
    TicketState,
    check_transition,
)
from eoms_bridge.domain.workflow import WorkflowDefinition, parse_workflow

S = TicketState
WORKER = Actor.person("w1", "noc_tester")
WORKER2 = Actor.person("w2", "noc_tester")
NETWORK_STAFF = Actor.person("ns1", "network_staff")  # no catch-all: network_staff does not work noc_tester
DISPATCHER = Actor(id="d1", dispatcher=True)  # hands tasks to people holding the role, works none
OUTSIDER = Actor.person("am1", "account_manager")
SUP = Actor.person("sup1", "supervisor")
CRM = Actor.system("crm")


T0 = datetime(2024, 5, 21, 8, 16, 43, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def state_of(t: Ticket) -> TicketState:
    """Read the state through a call so mypy does not keep a narrowed literal across actions."""
    return t.state


def small_workflow() -> WorkflowDefinition:
    return parse_workflow(
        {
            "id": "m2m.change",
            "version": 1,
            "business_type": "m2m.change",
            "tickets": [
                {
                    "kind": "service_opening",
                    "start_node": "first",
                    "nodes": [
                        {
                            "name": "first",
                            "role": "noc_tester",
                            "outcomes": {"next": "second", "lock": "locked", "done": "$resolved", "fail": "$rejected"},
                        },
                        {"name": "second", "role": "noc_tester", "outcomes": {"done": "$resolved"}},
                        {
                            "name": "locked",
                            "role": "noc_tester",
                            "actions": ["accept", "complete"],
                            "outcomes": {"done": "$resolved"},
                        },
                    ],
                },
            ],
        }
    )


def new_ticket(wf: WorkflowDefinition | None = None) -> Ticket:
    t, _ = Ticket.open(
        ticket_id="T1", workflow=wf or small_workflow(), kind="service_opening", subject_id="O1", now=at(0), actor=CRM
    )
    return t


def ticket_in(state: TicketState) -> Ticket:
    """A ticket in ``state``; in_progress/pending ones sit claimed at 'second' so return is possible."""
    t = new_ticket()
    if state is S.ACKNOWLEDGED:
        return t
    if state is S.HELD:
        t.hold(actor=CRM, now=at(1), reason="customer asked to wait")
        return t
    if state is S.CANCELLED:
        t.cancel(actor=CRM, now=at(1), reason="order withdrawn")
        return t
    t.accept(actor=WORKER, now=at(1))
    if state is S.REJECTED:
        t.complete(actor=WORKER, now=at(2), outcome="fail", data={"reason": "resource unavailable"})
        return t
    if state in (S.RESOLVED, S.CLOSED):
        t.complete(actor=WORKER, now=at(2), outcome="done")
        if state is S.CLOSED:
            t.close(actor=CRM, now=at(3))
        return t
    t.complete(actor=WORKER, now=at(2), outcome="next")
    t.accept(actor=WORKER, now=at(3))
    if state is S.PENDING:
        t.suspend(actor=WORKER, now=at(4), reason="waiting for customer site access")
    return t


ACTIONS: dict[TicketAction, Callable[[Ticket], list[DomainEvent]]] = {
    TicketAction.ACCEPT: lambda t: t.accept(actor=WORKER, now=at(10)),
    TicketAction.COMPLETE: lambda t: t.complete(actor=WORKER, now=at(10), outcome="done"),
    TicketAction.RETURN: lambda t: t.return_(actor=WORKER, now=at(10), reason="data missing"),
    TicketAction.SUSPEND: lambda t: t.suspend(actor=WORKER, now=at(10), reason="waiting"),
    TicketAction.RESUME: lambda t: t.resume(actor=WORKER, now=at(10)),
    TicketAction.REASSIGN: lambda t: t.reassign(actor=SUP, now=at(10), to=WORKER2),
    TicketAction.HOLD: lambda t: t.hold(actor=CRM, now=at(10), reason="arrears"),
    TicketAction.RELEASE: lambda t: t.release(actor=CRM, now=at(10)),
    TicketAction.CANCEL: lambda t: t.cancel(actor=CRM, now=at(10), reason="withdrawn"),
    TicketAction.CLOSE: lambda t: t.close(actor=CRM, now=at(10)),
}

EXPECTED_AFTER: dict[TicketAction, TicketState | None] = {
    TicketAction.COMPLETE: S.RESOLVED,
    TicketAction.SUSPEND: S.PENDING,
    TicketAction.RESUME: S.IN_PROGRESS,
    TicketAction.HOLD: S.HELD,
    TicketAction.CANCEL: S.CANCELLED,
    TicketAction.CLOSE: S.CLOSED,
}


# ------------------------------------------------------------------ tables
@pytest.mark.parametrize("from_state", list(S))
@pytest.mark.parametrize("to_state", list(S))
def test_transition_table(from_state: TicketState, to_state: TicketState) -> None:
    if to_state in TRANSITIONS[from_state]:
        check_transition(from_state, to_state)
    else:
        with pytest.raises(IllegalTransitionError, match=f"{from_state.value} -> {to_state.value}"):
            check_transition(from_state, to_state)


def test_transition_table_shape() -> None:
    assert TRANSITIONS[S.IN_PROGRESS] >= {S.PENDING, S.RESOLVED, S.REJECTED}
    assert TRANSITIONS[S.PENDING] >= {S.IN_PROGRESS}
    assert TRANSITIONS[S.RESOLVED] == {S.CLOSED}
    for terminal in (S.CLOSED, S.REJECTED, S.CANCELLED):
        assert TRANSITIONS[terminal] == frozenset()


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("action", list(TicketAction))
def test_action_table(state: TicketState, action: TicketAction) -> None:
    t = ticket_in(state)
    assert state_of(t) is state
    if state in ACTION_STATES[action]:
        ACTIONS[action](t)
        expected = EXPECTED_AFTER.get(action)
        if expected is not None:
            assert state_of(t) is expected
    else:
        before = t.state
        with pytest.raises(IllegalTransitionError, match=f"cannot {action.value} in state {state.value}"):
            ACTIONS[action](t)
        assert state_of(t) is before


def test_allowed_actions_matches_table() -> None:
    assert new_ticket().allowed_actions() == {
        TicketAction.ACCEPT,
        TicketAction.REASSIGN,
        TicketAction.HOLD,
        TicketAction.CANCEL,
    }
    at_second = ticket_in(S.IN_PROGRESS).allowed_actions()
    assert TicketAction.RETURN in at_second and TicketAction.ACCEPT not in at_second
    assert ticket_in(S.RESOLVED).allowed_actions() == {TicketAction.CLOSE}
    assert ticket_in(S.CLOSED).allowed_actions() == frozenset()


# ------------------------------------------------------------- what a caller may do
THIRD = Actor.person("w3", "noc_tester")
CALLERS = {"worker": WORKER, "tester_2": WORKER2, "network_staff": NETWORK_STAFF, "account_manager": OUTSIDER,
           "supervisor": SUP, "crm": CRM, "other_tester": THIRD, "dispatcher": DISPATCHER}
AS_CALLER: dict[TicketAction, Callable[[Ticket, Actor], list[DomainEvent]]] = {
    TicketAction.ACCEPT: lambda t, a: t.accept(actor=a, now=at(10)),
    TicketAction.COMPLETE: lambda t, a: t.complete(actor=a, now=at(10), outcome="done"),
    TicketAction.RETURN: lambda t, a: t.return_(actor=a, now=at(10), reason="data missing"),
    TicketAction.SUSPEND: lambda t, a: t.suspend(actor=a, now=at(10), reason="waiting"),
    TicketAction.RESUME: lambda t, a: t.resume(actor=a, now=at(10)),
    TicketAction.REASSIGN: lambda t, a: t.reassign(actor=a, now=at(10), to=THIRD if a is not THIRD else WORKER),
    TicketAction.HOLD: lambda t, a: t.hold(actor=a, now=at(10), reason="arrears"),
    TicketAction.RELEASE: lambda t, a: t.release(actor=a, now=at(10)),
    TicketAction.CANCEL: lambda t, a: t.cancel(actor=a, now=at(10), reason="withdrawn"),
    TicketAction.CLOSE: lambda t, a: t.close(actor=a, now=at(10)),
}


def _unclaimed_at_second() -> Ticket:
    t = new_ticket()
    t.accept(actor=WORKER, now=at(1))
    t.complete(actor=WORKER, now=at(2), outcome="next")
    return t


SITUATIONS: dict[str, Callable[[], Ticket]] = {
    **{s.value: (lambda s=s: ticket_in(s)) for s in S},  # type: ignore[misc]
    "in_progress_unclaimed": _unclaimed_at_second,
}


@pytest.mark.parametrize("situation", list(SITUATIONS))
@pytest.mark.parametrize("caller", list(CALLERS))
def test_actions_for_a_caller_are_exactly_those_the_domain_lets_it_take(situation: str, caller: str) -> None:
    actor = CALLERS[caller]
    listed = SITUATIONS[situation]().actions_for(actor)
    assert listed <= SITUATIONS[situation]().allowed_actions()
    for action in TicketAction:
        t = SITUATIONS[situation]()
        try:
            took_effect = bool(AS_CALLER[action](t, actor))
        except (IllegalTransitionError, ActorNotAllowedError):
            took_effect = False
        assert took_effect == (action in listed), (situation, caller, action.value)


def test_outcomes_are_the_current_nodes_in_workflow_order() -> None:
    assert new_ticket().outcomes() == [("next", "second"), ("lock", "locked"), ("done", "$resolved"),
                                       ("fail", "$rejected")]
    assert ticket_in(S.IN_PROGRESS).outcomes() == [("done", "$resolved")]
    assert ticket_in(S.RESOLVED).outcomes() == []


# ------------------------------------------------------------- node actions
def test_open_produces_created_and_node_entered() -> None:
    t, events = Ticket.open(
        ticket_id="T9",
        workflow=small_workflow(),
        kind="service_opening",
        subject_id="O9",
        now=at(0),
        actor=CRM,
        customer_tier="A",
    )
    assert [type(e) for e in events] == [TicketCreated, NodeEntered]
    assert isinstance(events[1], NodeEntered) and events[1].node == "first" and events[1].customer_tier == "A"
    assert state_of(t) is S.ACKNOWLEDGED and t.current_node == "first" and t.assignee is None
    assert events[0].to_data()["occurred_at"] == at(0).isoformat()


def test_open_rejects_ticket_kind_not_in_workflow_and_naive_time() -> None:
    with pytest.raises(IllegalTransitionError, match="does not generate a 'complaint_fault' ticket"):
        Ticket.open(
            ticket_id="x", workflow=small_workflow(), kind="complaint_fault", subject_id="o", now=at(0), actor=CRM
        )
    with pytest.raises(ValueError, match="timezone-aware"):
        Ticket.open(
            ticket_id="x",
            workflow=small_workflow(),
            kind="service_opening",
            subject_id="o",
            now=at(0).replace(tzinfo=None),
            actor=CRM,
        )


def test_accept_claims_and_starts_work() -> None:
    t = new_ticket()
    events = t.accept(actor=WORKER, now=at(1))
    assert [type(e) for e in events] == [NodeAssigned, StateChanged]
    assert state_of(t) is S.IN_PROGRESS and t.assignee == "w1"
    assert t.accept(actor=WORKER, now=at(2)) == []  # idempotent for the assignee
    with pytest.raises(IllegalTransitionError, match="already claimed by 'w1'"):
        t.accept(actor=WORKER2, now=at(2))


def test_accept_requires_node_role() -> None:
    with pytest.raises(ActorNotAllowedError, match="role 'noc_tester'"):
        new_ticket().accept(actor=OUTSIDER, now=at(1))


def test_complete_needs_claim_by_the_actor() -> None:
    t = new_ticket()
    t.hold(actor=CRM, now=at(1), reason="r")
    t.release(actor=CRM, now=at(2))
    assert state_of(t) is S.ACKNOWLEDGED
    t = ticket_in(S.IN_PROGRESS)
    with pytest.raises(ActorNotAllowedError, match="assigned to 'w1', not 'w2'"):
        t.complete(actor=WORKER2, now=at(5), outcome="done")
    t.complete(actor=WORKER, now=at(5), outcome="done")


def test_complete_moves_to_next_node_unclaimed() -> None:
    t = new_ticket()
    t.accept(actor=WORKER, now=at(1))
    events = t.complete(actor=WORKER, now=at(2), outcome="next", data={"note": "ok"})
    assert [type(e) for e in events] == [NodeCompleted, NodeEntered]
    assert t.current_node == "second" and t.assignee is None and state_of(t) is S.IN_PROGRESS
    with pytest.raises(IllegalTransitionError, match="must be accepted first"):
        t.complete(actor=WORKER, now=at(3), outcome="done")
    first = t.history[0]
    assert (first.node, first.assignee, first.left_by, first.outcome, first.data) == (
        "first",
        "w1",
        "w1",
        "next",
        {"note": "ok"},
    )
    assert first.accepted_at == at(1) and first.left_at == at(2)


def test_complete_unknown_outcome() -> None:
    t = new_ticket()
    t.accept(actor=WORKER, now=at(1))
    with pytest.raises(UnknownOutcomeError, match="unknown outcome 'perhaps'"):
        t.complete(actor=WORKER, now=at(2), outcome="perhaps")


def test_reject_needs_reason_and_reports_it() -> None:
    t = new_ticket()
    t.accept(actor=WORKER, now=at(1))
    with pytest.raises(MissingReasonError):
        t.complete(actor=WORKER, now=at(2), outcome="fail")
    events = t.complete(actor=WORKER, now=at(2), outcome="fail", data={"reason": "no fibre to the site"})
    assert [type(e) for e in events] == [NodeCompleted, StateChanged, TicketRejected]
    rejected = events[-1]
    assert isinstance(rejected, TicketRejected) and rejected.reason == "no fibre to the site"
    assert state_of(t) is S.REJECTED and t.current_node is None and t.reason == "no fibre to the site"


def test_resolve_and_close_events() -> None:
    t = new_ticket()
    t.accept(actor=WORKER, now=at(1))
    events = t.complete(actor=WORKER, now=at(2), outcome="done")
    assert [type(e) for e in events] == [NodeCompleted, StateChanged, TicketResolved]
    with pytest.raises(ActorNotAllowedError):
        t.close(actor=WORKER, now=at(3))
    events = t.close(actor=OUTSIDER, now=at(3))  # the account manager confirms
    assert [type(e) for e in events] == [StateChanged, TicketClosed]
    assert state_of(t) is S.CLOSED


def test_return_goes_to_previous_node_along_the_path() -> None:
    t = ticket_in(S.IN_PROGRESS)
    assert t.current_node == "second"
    with pytest.raises(MissingReasonError):
        t.return_(actor=WORKER, now=at(5), reason=" ")
    events = t.return_(actor=WORKER, now=at(5), reason="measurement missing")
    assert [type(e) for e in events] == [NodeReturned, NodeEntered]
    assert t.current_node == "first" and t.assignee is None
    assert t.history[-2].outcome == "$return" and t.history[-2].reason == "measurement missing"
    assert t.history[-1].entered_via == "return"
    t.accept(actor=WORKER, now=at(6))
    with pytest.raises(IllegalTransitionError, match="no previous node"):
        t.return_(actor=WORKER, now=at(7), reason="again")


def test_node_that_disallows_actions() -> None:
    t = new_ticket()
    t.accept(actor=WORKER, now=at(1))
    t.complete(actor=WORKER, now=at(2), outcome="lock")
    t.accept(actor=WORKER, now=at(3))
    calls: list[Callable[[], list[DomainEvent]]] = [
        lambda: t.suspend(actor=WORKER, now=at(4), reason="x"),
        lambda: t.return_(actor=WORKER, now=at(4), reason="x"),
        lambda: t.reassign(actor=SUP, now=at(4), to=WORKER2),
    ]
    for call in calls:
        with pytest.raises(IllegalTransitionError, match="node 'locked' does not allow"):
            call()
    assert TicketAction.SUSPEND not in t.allowed_actions()


def test_suspend_resume_pauses_sla() -> None:
    t = ticket_in(S.IN_PROGRESS)
    events = t.suspend(actor=WORKER, now=at(5), reason="customer not reachable")
    assert t.sla_paused and isinstance(events[0], StateChanged) and events[0].sla_paused
    assert events[0].reason == "customer not reachable"
    with pytest.raises(ActorNotAllowedError):
        t.resume(actor=WORKER2, now=at(6))
    events = t.resume(actor=SUP, now=at(6))
    assert not t.sla_paused and state_of(t) is S.IN_PROGRESS
    assert isinstance(events[0], StateChanged) and not events[0].sla_paused


def test_hold_and_release_restore_previous_state() -> None:
    t = ticket_in(S.PENDING)
    with pytest.raises(ActorNotAllowedError):
        t.hold(actor=WORKER, now=at(5), reason="x")
    t.hold(actor=SUP, now=at(5), reason="arrears")
    assert state_of(t) is S.HELD and t.sla_paused
    t.release(actor=CRM, now=at(6))
    assert state_of(t) is S.PENDING


def test_reassign_stays_within_role() -> None:
    t = ticket_in(S.IN_PROGRESS)
    with pytest.raises(ActorNotAllowedError, match="reassignment stays within the role"):
        t.reassign(actor=WORKER, now=at(5), to=OUTSIDER)
    with pytest.raises(ActorNotAllowedError, match="only the assignee"):
        t.reassign(actor=WORKER2, now=at(5), to=WORKER2)
    events = t.reassign(actor=WORKER, now=at(5), to=WORKER2)
    assert isinstance(events[0], NodeAssigned)
    assert (events[0].assignee, events[0].previous_assignee) == ("w2", "w1")
    assert t.assignee == "w2" and t.visit is not None and t.visit.reassignments == [(at(5), "w1", "w2")]
    with pytest.raises(IllegalTransitionError, match="already assigned"):
        t.reassign(actor=SUP, now=at(6), to=WORKER2)
    t.complete(actor=WORKER2, now=at(7), outcome="done")
    assert state_of(t) is S.RESOLVED


def test_dispatch_unclaimed_node_by_role_holder() -> None:
    t = new_ticket()
    t.reassign(actor=WORKER, now=at(1), to=WORKER2)
    assert t.assignee == "w2" and state_of(t) is S.ACKNOWLEDGED
    t.accept(actor=WORKER2, now=at(2))
    assert state_of(t) is S.IN_PROGRESS


def test_cancel_closes_current_visit() -> None:
    t = ticket_in(S.IN_PROGRESS)
    events = t.cancel(actor=CRM, now=at(9), reason="order withdrawn")
    assert [type(e) for e in events] == [StateChanged, TicketCancelled]
    assert t.current_node is None and t.history[-1].outcome == "$cancelled"
    with pytest.raises(ActorNotAllowedError):
        ticket_in(S.ACKNOWLEDGED).cancel(actor=WORKER, now=at(1), reason="x")


def test_event_payloads_are_json_ready() -> None:
    t = new_ticket()
    events: list[Any] = t.accept(actor=WORKER, now=at(1))
    events += t.complete(actor=WORKER, now=at(2), outcome="next", data={"bandwidth_mbps": 100})
    for e in events:
        data = e.to_data()
        assert data["ticket_id"] == "T1" and isinstance(data["occurred_at"], str)
        assert e.event_type.startswith("eoms.ticket.")


# ------------------------------------------------------------- roles of the seed (issue 13)
def test_no_role_covers_another() -> None:
    """network_staff used to act as every network sub-role; now a user works a node only with its role."""
    with pytest.raises(ActorNotAllowedError, match="does not hold role 'noc_tester'"):
        new_ticket().accept(actor=NETWORK_STAFF, now=at(1))
    assert TicketAction.ACCEPT not in new_ticket().actions_for(NETWORK_STAFF)
    with pytest.raises(ActorNotAllowedError, match="reassignment stays within the role"):
        ticket_in(S.IN_PROGRESS).reassign(actor=WORKER, now=at(5), to=NETWORK_STAFF)


def test_a_supervisor_overrides_the_nodes_role_and_it_is_recorded() -> None:
    t = new_ticket()
    assert TicketAction.ACCEPT in t.actions_for(SUP)
    (assigned, started) = t.accept(actor=SUP, now=at(1))
    assert isinstance(assigned, NodeAssigned) and assigned.how == "override" and assigned.assignee == "sup1"
    assert isinstance(started, StateChanged) and t.assignee == "sup1"
    t.complete(actor=SUP, now=at(2), outcome="done")
    claimed = new_ticket().accept(actor=WORKER, now=at(1))[0]
    assert isinstance(claimed, NodeAssigned) and claimed.how == "claim"
    # a supervisor may also hand a node to someone outside its role: an override too
    t = ticket_in(S.IN_PROGRESS)
    (moved,) = t.reassign(actor=SUP, now=at(6), to=NETWORK_STAFF)
    assert isinstance(moved, NodeAssigned) and moved.how == "override" and moved.previous_assignee == "w1"


def test_a_dispatcher_reassigns_within_the_role_and_dispatches() -> None:
    t = ticket_in(S.IN_PROGRESS)
    (moved,) = t.reassign(actor=DISPATCHER, now=at(5), to=WORKER2, unit="network")
    assert isinstance(moved, NodeAssigned) and (moved.how, moved.assignee_unit) == ("manual", "network")
    with pytest.raises(ActorNotAllowedError, match="within the role"):
        ticket_in(S.IN_PROGRESS).reassign(actor=DISPATCHER, now=at(5), to=NETWORK_STAFF)
    with pytest.raises(ActorNotAllowedError):
        new_ticket().accept(actor=DISPATCHER, now=at(1))
    t = new_ticket()
    (auto,) = t.dispatch(actor=Actor.system("dispatch"), now=at(1), to="w2")
    assert isinstance(auto, NodeAssigned) and auto.how == "auto" and t.assignee == "w2"
    assert t.visit is not None and t.visit.accepted_at is None and state_of(t) is S.ACKNOWLEDGED
    assert TicketAction.ACCEPT in t.actions_for(WORKER2) and TicketAction.ACCEPT not in t.actions_for(WORKER)
    t.accept(actor=WORKER2, now=at(2))  # the dispatched person accepts to start
    assert state_of(t) is S.IN_PROGRESS and t.visit.accepted_at == at(2)
    with pytest.raises(IllegalTransitionError, match="already assigned"):
        t.dispatch(actor=DISPATCHER, now=at(3), to="w3")
    with pytest.raises(ActorNotAllowedError):
        new_ticket().dispatch(actor=WORKER, now=at(1), to="w2")
