"""End-to-end walks through the Ticket aggregate over the shipped catalog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backbone.vocabulary import NodeRole as Role
from backbone.vocabulary import TicketKind
from eoms_bridge.domain.events import (
    DomainEvent,
    NodeEntered,
    StateChanged,
    TicketClosed,
    TicketRejected,
    TicketResolved,
)
from eoms_bridge.domain.routing import distance_to_terminal, tickets_to_open
from eoms_bridge.domain.ticket import Actor, Ticket, TicketAction, TicketState
from eoms_bridge.domain.workflow import TERMINALS, WorkflowCatalog, WorkflowDefinition

CRM = Actor.system("crm")
PEOPLE = {role: Actor.person(f"{role.value}-1", role) for role in Role}
PEOPLE_2 = {role: Actor.person(f"{role.value}-2", role) for role in Role}


T0 = datetime(2024, 5, 21, 8, 16, 43, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def state_of(t: Ticket) -> TicketState:
    """Read the state through a call so mypy does not keep a narrowed literal across actions."""
    return t.state


class Clock:
    def __init__(self) -> None:
        self.minute = 0

    def __call__(self) -> datetime:
        self.minute += 7
        return at(self.minute)


def work(t: Ticket, outcome: str, clock: Clock, data: dict[str, object] | None = None) -> list[DomainEvent]:
    """Accept the current node as a holder of its role, then complete it with ``outcome``."""
    assert t.node is not None
    who = PEOPLE[t.node.role]
    events = t.accept(actor=who, now=clock())
    return events + t.complete(actor=who, now=clock(), outcome=outcome, data=data)


def test_full_dedicated_line_data_opening_walk(catalog: WorkflowCatalog) -> None:
    wf = catalog.latest("dedicated_line_data.opening")
    clock = Clock()
    resolved: list[TicketKind] = []
    assert tickets_to_open(wf, resolved) == [TicketKind.RESOURCE_CONFIRMATION]

    # 1. network resource confirmation (with a site survey branch)
    rc, events = Ticket.open(
        ticket_id="RC-1", workflow=wf, kind="resource_confirmation", subject_id="ORD-1", now=at(0), actor=CRM
    )
    for node, outcome in [
        ("order_acceptance_check", "accepted"),
        ("resource_check", "needs_site_survey"),
        ("site_survey", "feasible"),
        ("transmission_design", "designed"),
        ("confirmation_review", "approved"),
    ]:
        assert rc.current_node == node
        events += work(rc, outcome, clock)
    assert state_of(rc) is TicketState.RESOLVED
    assert isinstance(events[-1], TicketResolved) and events[-1].last_node == "confirmation_review"
    resolved.append(rc.kind)
    assert tickets_to_open(wf, resolved, already_opened=resolved) == [TicketKind.RESOURCE_PREOCCUPATION]

    # 2. resource pre-occupation (reservation), with one redo
    rp, _ = Ticket.open(
        ticket_id="RP-1", workflow=wf, kind="resource_preoccupation", subject_id="ORD-1", now=clock(), actor=CRM
    )
    for outcome in ["reserved", "reserved", "re_reserve", "reserved", "reserved", "confirmed"]:
        work(rp, outcome, clock)
    assert state_of(rp) is TicketState.RESOLVED
    assert [v.node for v in rp.history] == [
        "resource_reserve",
        "port_reservation",
        "reservation_confirm",
        "resource_reserve",
        "port_reservation",
        "reservation_confirm",
    ]
    resolved.append(rp.kind)
    assert tickets_to_open(wf, resolved) == [TicketKind.SERVICE_OPENING]

    # 3. service opening: construction blocked, coordination, failed test, trial with a pause, revisit
    so, _ = Ticket.open(
        ticket_id="SO-1",
        workflow=wf,
        kind="service_opening",
        subject_id="ORD-1",
        now=clock(),
        actor=CRM,
        customer_tier="A",
    )
    for outcome in ["scheduled", "construction_blocked", "unblocked", "built", "installed", "done", "failed", "done"]:
        work(so, outcome, clock)
    assert so.current_node == "testing"
    work(so, "passed", clock, {"throughput_mbps": 100, "latency_ms": 3})
    work(so, "activated", clock)
    # trial: the account manager takes it, waits for the customer (pending), returns it once
    am = PEOPLE[Role.ACCOUNT_MANAGER]
    so.accept(actor=am, now=clock())
    so.suspend(actor=am, now=clock(), reason="customer on holiday")
    assert so.sla_paused and state_of(so) is TicketState.PENDING
    so.resume(actor=am, now=clock())
    so.return_(actor=am, now=clock(), reason="customer cannot reach the intranet")
    assert so.current_node == "service_activation"
    work(so, "activated", clock)
    am2 = PEOPLE_2[Role.ACCOUNT_MANAGER]
    so.reassign(actor=PEOPLE[Role.SUPERVISOR], now=clock(), to=am2)
    so.complete(actor=am2, now=clock(), outcome="trial_ok")
    work(so, "confirmed", clock)
    events = work(so, "satisfied", clock)
    assert state_of(so) is TicketState.RESOLVED
    assert [type(e).__name__ for e in events][-2:] == ["StateChanged", "TicketResolved"]
    closing = so.close(actor=CRM, now=clock())
    assert isinstance(closing[-1], TicketClosed) and state_of(so) is TicketState.CLOSED
    resolved.append(so.kind)
    assert tickets_to_open(wf, resolved) == []

    # the full node history, with who / when / outcome
    visited = [(v.node, v.outcome) for v in so.history]
    assert visited[0] == ("circuit_scheduling", "scheduled")
    assert ("construction_coordination", "unblocked") in visited
    assert ("testing", "failed") in visited and ("testing", "passed") in visited
    assert ("trial", "$return") in visited and ("trial", "trial_ok") in visited
    assert visited[-1] == ("revisit", "satisfied")
    trial_done = next(v for v in so.history if v.outcome == "trial_ok")
    assert trial_done.left_by == am2.id and trial_done.reassignments[0][2] == am2.id
    tested = next(v for v in so.history if v.outcome == "passed")
    assert tested.data == {"throughput_mbps": 100, "latency_ms": 3} and tested.role is Role.NOC_TESTER
    for prev, nxt in zip(so.history, so.history[1:], strict=False):
        assert prev.left_at is not None and prev.left_at <= nxt.entered_at
    assert so.workflow_version == wf.version and so.customer_tier == "A"


def test_resource_unavailable_goes_back_to_crm_with_reason(catalog: WorkflowCatalog) -> None:
    wf = catalog.latest("dedicated_line_internet.opening")
    clock = Clock()
    rc, _ = Ticket.open(
        ticket_id="RC-2", workflow=wf, kind="resource_confirmation", subject_id="O2", now=at(0), actor=CRM
    )
    work(rc, "accepted", clock)
    events = work(rc, "resource_unavailable", clock, {"reason": "no free port on the access switch"})
    assert state_of(rc) is TicketState.REJECTED
    rejected = events[-1]
    assert isinstance(rejected, TicketRejected) and rejected.reason == "no free port on the access switch"
    assert tickets_to_open(wf, []) == [TicketKind.RESOURCE_CONFIRMATION]  # nothing further unblocked


def test_running_ticket_keeps_its_version(catalog: WorkflowCatalog) -> None:
    v1 = catalog.latest("vpmn.change")
    data = v1.model_dump(mode="json")
    data["version"] = v1.version + 1
    so = data["tickets"][0]
    so["nodes"][-1]["outcomes"]["confirmed"] = "revisit"
    so["nodes"].append({"name": "revisit", "role": "complaint_desk", "outcomes": {"satisfied": "$resolved"}})
    v2 = WorkflowDefinition.model_validate(data)
    cat = WorkflowCatalog([*catalog, v2])
    clock = Clock()
    old, _ = Ticket.open(
        ticket_id="T-old", workflow=cat.latest("vpmn.change"), kind="service_opening", subject_id="O", now=at(0),
        actor=CRM,
    )  # fmt: skip
    assert old.workflow_version == v2.version
    running, _ = Ticket.open(
        ticket_id="T-run", workflow=cat.get(v1.id, v1.version), kind="service_opening", subject_id="O", now=at(0),
        actor=CRM,
    )  # fmt: skip
    for outcome in ["accepted", "done", "done", "passed", "confirmed"]:
        work(running, outcome, clock)
    assert state_of(running) is TicketState.RESOLVED  # v1 ends at change_confirmation
    for outcome in ["accepted", "done", "done", "passed", "confirmed"]:
        work(old, outcome, clock)
    assert old.current_node == "revisit"  # v2 has the extra node


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), random_steps=st.integers(min_value=0, max_value=40))
def test_random_ticket_walks_over_catalog_end(catalog: WorkflowCatalog, data: st.DataObject, random_steps: int) -> None:
    """Random actions (complete with any outcome, return, suspend/resume, reassign, hold/release)
    on any shipped ticket; then head for the nearest terminal. Every walk ends resolved/rejected."""
    wf: WorkflowDefinition = data.draw(st.sampled_from(list(catalog)))
    kind = data.draw(st.sampled_from([t.kind for t in wf.tickets]))
    t, _ = Ticket.open(ticket_id="P", workflow=wf, kind=kind, subject_id="O", now=at(0), actor=CRM)
    dist = distance_to_terminal(t.definition)
    clock = Clock()
    steps = 0
    bound = random_steps + 3 * len(t.definition.nodes) + 10
    while not t.is_terminal and state_of(t) is not TicketState.RESOLVED:
        steps += 1
        assert steps <= bound
        node = t.node
        assert node is not None and node.role in Role
        if state_of(t) is TicketState.HELD:
            t.release(actor=CRM, now=clock())
            continue
        if state_of(t) is TicketState.PENDING:
            t.resume(actor=CRM, now=clock())
            continue
        holder = PEOPLE[node.role] if t.assignee in (None, PEOPLE[node.role].id) else PEOPLE_2[node.role]
        if t.assignee is None:
            t.accept(actor=holder, now=clock())
        allowed = t.allowed_actions()
        if steps <= random_steps:
            choice = data.draw(st.sampled_from(["complete", "return", "suspend", "reassign", "hold"]))
            if choice == "return" and TicketAction.RETURN in allowed:
                t.return_(actor=holder, now=clock(), reason="random return")
                continue
            if choice == "suspend" and TicketAction.SUSPEND in allowed:
                t.suspend(actor=holder, now=clock(), reason="random pause")
                continue
            if choice == "reassign" and TicketAction.REASSIGN in allowed:
                other = PEOPLE_2[node.role] if holder is PEOPLE[node.role] else PEOPLE[node.role]
                t.reassign(actor=holder, now=clock(), to=other)
                continue
            if choice == "hold":
                t.hold(actor=CRM, now=clock(), reason="random hold")
                continue
            outcome = data.draw(st.sampled_from(sorted(node.outcomes)))
        else:
            outcome = min(
                sorted(node.outcomes),
                key=lambda o: 0 if node.outcomes[o] in TERMINALS else dist[node.outcomes[o]],
            )
        t.complete(actor=holder, now=clock(), outcome=outcome, data={"reason": "walk"})
    assert state_of(t) in (TicketState.RESOLVED, TicketState.REJECTED)
    assert t.current_node is None and all(not v.open for v in t.history)


@pytest.mark.parametrize("business_type", ["vpmn.complaint", "dedicated_line_data.complaint", "group_sms.complaint"])
def test_complaint_walk(catalog: WorkflowCatalog, business_type: str) -> None:
    wf = catalog.latest(business_type)
    clock = Clock()
    t, events = Ticket.open(
        ticket_id="C", workflow=wf, kind="complaint_fault", subject_id="CMP-1", now=at(0), actor=CRM
    )
    for outcome in ["registered", "network_fault", "located", "repaired", "passed", "unsatisfied",
                    "business_issue", "handled", "satisfied", "archived"]:  # fmt: skip
        events += work(t, outcome, clock)
    assert state_of(t) is TicketState.RESOLVED
    roles = [e.role for e in events if isinstance(e, NodeEntered)]
    assert roles[0] == "complaint_desk" and "noc_tester" in roles
    assert sum(isinstance(e, StateChanged) for e in events) == 2
