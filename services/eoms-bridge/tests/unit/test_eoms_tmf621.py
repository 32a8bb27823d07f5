"""TMF621 status model mapped onto the workflow's node actions; severity → priority (domain/tmf621.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backbone.errors import Invalid
from backbone.vocabulary import Tier
from eoms_bridge.domain.ticket import Actor, Ticket, TicketAction, TicketState
from eoms_bridge.domain.tmf621 import (
    SEVERITIES,
    STATE_OF_STATUS,
    STATUS_OF_STATE,
    StatusChange,
    StatusNotAllowedError,
    Step,
    TmfStatus,
    normalize_severity,
    priority_of,
    status_plan,
    tier_of_severity,
    trouble_ticket,
)
from eoms_bridge.domain.workflow import WorkflowCatalog, WorkflowDefinition

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SYSTEM = Actor.system("tmf:fault-manager")


def _open(catalog: WorkflowCatalog, business_type: str = "generic.complaint") -> Ticket:
    wf: WorkflowDefinition = catalog.latest(business_type)
    ticket, _ = Ticket.open(ticket_id="tkt_1", workflow=wf, kind="complaint_fault", subject_id="ALM-1", now=T0,
                            actor=SYSTEM, customer_tier="B")
    return ticket


def _run(ticket: Ticket, steps: list[Step], now: datetime, reason: str = "because") -> None:
    """Perform a plan as the people who may: the node's role holder (then assignee) for the node actions,
    the system's authority for the ticket-level ones."""
    for step in steps:
        node = ticket.node
        worker = Actor.person(ticket.assignee or "w1", *([node.role] if node else []))
        match step.action:
            case TicketAction.ACCEPT:
                ticket.accept(actor=worker, now=now)
            case TicketAction.COMPLETE:
                ticket.complete(actor=worker, now=now, outcome=step.outcome or "", data={"reason": reason})
            case TicketAction.SUSPEND:
                ticket.suspend(actor=worker, now=now, reason=reason)
            case TicketAction.RESUME:
                ticket.resume(actor=worker, now=now)
            case TicketAction.HOLD:
                ticket.hold(actor=SYSTEM, now=now, reason=reason)
            case TicketAction.RELEASE:
                ticket.release(actor=SYSTEM, now=now)
            case TicketAction.CANCEL:
                ticket.cancel(actor=SYSTEM, now=now, reason=reason)
            case TicketAction.CLOSE:
                ticket.close(actor=SYSTEM, now=now)
            case _:  # pragma: no cover - status plans use no other action
                raise AssertionError(step)


ADVANCE = "advance"


def _advance(ticket: Ticket, now: datetime) -> None:
    """Work the current node to its first outcome leading to another node (when the ticket is being worked)."""
    node = ticket.node
    if ticket.state is not TicketState.IN_PROGRESS or node is None:
        return
    outcome = next((o for o, target in node.outcomes.items() if not target.startswith("$")), None)
    if outcome is None:
        return
    worker = Actor.person(ticket.assignee or "w1", node.role)
    if ticket.assignee is None:
        ticket.accept(actor=worker, now=now)
    ticket.complete(actor=worker, now=now, outcome=outcome)


def test_statuses_name_every_state_one_to_one() -> None:
    assert set(STATUS_OF_STATE) == set(TicketState)
    assert {s.value for s in TmfStatus} == {"acknowledged", "inProgress", "pending", "held", "resolved", "closed",
                                            "cancelled", "rejected"}
    assert all(STATE_OF_STATUS[STATUS_OF_STATE[s]] is s for s in TicketState)


@pytest.mark.parametrize(("severity", "priority", "tier"), [
    ("critical", "critical", Tier.A), ("Major", "high", Tier.A), ("HIGH", "high", Tier.A),
    ("moderate", "medium", Tier.B), ("medium", "medium", Tier.B), ("minor", "low", Tier.C), ("low", "low", Tier.C),
    ("warning", "low", Tier.C), ("indeterminate", "low", Tier.C),
])
def test_severity_maps_to_priority_and_tier(severity: str, priority: str, tier: Tier) -> None:
    stored = normalize_severity(f" {severity} ")
    assert stored == severity.lower()
    assert priority_of(stored) == priority
    assert tier_of_severity(severity) is tier


def test_an_unknown_severity_is_invalid_naming_the_field() -> None:
    with pytest.raises(Invalid) as err:
        normalize_severity("apocalyptic")
    assert err.value.errors == [{"field": "severity", "message": err.value.message}]
    assert priority_of(None) is None and priority_of("apocalyptic") is None
    assert set(SEVERITIES) >= {"critical", "major", "minor", "warning", "high", "medium", "low"}


def test_in_progress_is_accept_then_pending_is_suspend_then_resume(catalog: WorkflowCatalog) -> None:
    t = _open(catalog)
    assert status_plan(t, TmfStatus.ACKNOWLEDGED) == []
    assert status_plan(t, TmfStatus.IN_PROGRESS) == [Step(TicketAction.ACCEPT)]
    assert status_plan(t, TmfStatus.PENDING) == [Step(TicketAction.ACCEPT), Step(TicketAction.SUSPEND)]
    _run(t, status_plan(t, TmfStatus.PENDING), T0)
    assert t.state is TicketState.PENDING
    assert status_plan(t, TmfStatus.IN_PROGRESS) == [Step(TicketAction.RESUME)]


def test_held_releases_to_the_state_before_the_hold(catalog: WorkflowCatalog) -> None:
    t = _open(catalog)
    _run(t, status_plan(t, TmfStatus.HELD), T0)
    assert status_plan(t, TmfStatus.ACKNOWLEDGED) == [Step(TicketAction.RELEASE)]
    assert status_plan(t, TmfStatus.IN_PROGRESS) == [Step(TicketAction.RELEASE), Step(TicketAction.ACCEPT)]
    assert status_plan(t, TmfStatus.CANCELLED) == [Step(TicketAction.CANCEL)]


def test_rejected_completes_the_node_with_its_rejecting_outcome(catalog: WorkflowCatalog) -> None:
    t = _open(catalog)  # complaint_registration: registered -> complaint_triage, duplicate -> $rejected
    assert status_plan(t, TmfStatus.REJECTED) == [Step(TicketAction.ACCEPT), Step(TicketAction.COMPLETE, "duplicate")]


def test_resolved_where_the_node_does_not_resolve_is_refused_saying_where_it_does(catalog: WorkflowCatalog) -> None:
    t = _open(catalog)
    with pytest.raises(StatusNotAllowedError) as err:
        status_plan(t, TmfStatus.RESOLVED)
    e = err.value
    assert e.field == "status" and e.extra["to_state"] == "resolved" and e.from_state == "acknowledged"
    assert "complaint_registration" in e.message and "archive" in e.message  # where the workflow resolves it


def test_an_outcome_must_lead_to_the_asked_terminal(catalog: WorkflowCatalog) -> None:
    t = _open(catalog)
    with pytest.raises(StatusNotAllowedError, match="registered"):
        status_plan(t, TmfStatus.REJECTED, outcome="registered")
    assert status_plan(t, TmfStatus.REJECTED, outcome="duplicate")[-1] == Step(TicketAction.COMPLETE, "duplicate")


def test_resolved_then_closed_at_the_archive(catalog: WorkflowCatalog) -> None:
    t = _open(catalog)
    worker = Actor.person("w1", "complaint_desk")
    t.accept(actor=worker, now=T0)
    t.complete(actor=worker, now=T0, outcome="registered")
    t.accept(actor=worker, now=T0)
    t.complete(actor=worker, now=T0, outcome="other")  # -> business_handling (account manager)
    am = Actor.person("am1", "account_manager")
    t.accept(actor=am, now=T0)
    t.complete(actor=am, now=T0, outcome="handled")  # -> customer_revisit
    t.accept(actor=worker, now=T0)
    t.complete(actor=worker, now=T0, outcome="satisfied")  # -> archive
    assert t.current_node == "archive"
    assert status_plan(t, TmfStatus.RESOLVED) == [Step(TicketAction.ACCEPT), Step(TicketAction.COMPLETE, "archived")]
    _run(t, status_plan(t, TmfStatus.RESOLVED), T0)
    assert t.state is TicketState.RESOLVED
    assert status_plan(t, TmfStatus.CLOSED) == [Step(TicketAction.CLOSE)]
    for final in (TmfStatus.CANCELLED, TmfStatus.IN_PROGRESS, TmfStatus.ACKNOWLEDGED):
        with pytest.raises(StatusNotAllowedError):
            status_plan(t, final)


def test_a_node_without_suspend_cannot_go_pending(catalog: WorkflowCatalog) -> None:
    t = _open(catalog, "vpmn.complaint")
    wf = catalog.latest("vpmn.complaint")
    assert t.node is not None and t.node.name == "complaint_registration"
    archive = wf.ticket(t.kind).node("archive")
    assert "suspend" not in archive.actions  # the archive node has no suspend
    t.current_node = "archive"  # placed there directly: the node's actions are what is under test
    t.history[-1].node = "archive"
    with pytest.raises(StatusNotAllowedError, match="does not allow suspend"):
        status_plan(t, TmfStatus.PENDING)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(list(TmfStatus)), st.just(ADVANCE)), min_size=1, max_size=14))
def test_every_plan_lands_on_its_status_and_every_refusal_changes_nothing(
    catalog: WorkflowCatalog, targets: list[TmfStatus | str]
) -> None:
    """Over any sequence of asked statuses (and node work in between): a plan, performed by who may, lands
    exactly on the asked status; a refusal (409) leaves the ticket as it was."""
    t = _open(catalog)
    now = T0
    for target in targets:
        now += timedelta(minutes=1)
        if not isinstance(target, TmfStatus):
            _advance(t, now)
            continue
        before = (t.state, t.current_node, t.state_before_hold)
        try:
            steps = status_plan(t, target)
        except StatusNotAllowedError as e:
            assert (t.state, t.current_node, t.state_before_hold) == before
            assert e.field == "status" and e.extra["to_state"] == target.value
            assert STATUS_OF_STATE[t.state] is not target
            continue
        _run(t, steps, now)
        assert STATUS_OF_STATE[t.state] is target


def _row(**over: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": "tkt_1", "kind": "complaint_fault", "business_type": "generic.complaint", "origin": "network",
        "origin_id": "ALM-1", "customer_id": "", "customer_name": "", "customer_tier": "A", "state": "in_progress",
        "current_node": "fault_location", "current_role": "noc_tester", "assignee": None, "workflow_id":
        "generic.complaint", "workflow_version": 1, "severity": "critical", "description": "LOS",
        "created_at": T0, "updated_at": T0, "data": {
            "external_id": "ALM-1", "reported_by": "fm-1", "name": "LOS on OLT-07",
            "related_entity": [{"id": "OLT-07", "@referredType": "Resource"}], "notes": [{"text": "n1"}]}}
    row.update(over)
    return row


def test_a_network_ticket_as_the_tmf621_resource_omits_what_it_lacks() -> None:
    changes = [StatusChange("acknowledged", T0), StatusChange("in_progress", T0 + timedelta(minutes=3), "taken")]
    tt = trouble_ticket(_row(), href="/tt/tkt_1", changes=changes)
    assert (tt["status"], tt["priority"], tt["externalId"], tt["name"]) == ("inProgress", "critical", "ALM-1",
                                                                              "LOS on OLT-07")
    assert tt["relatedEntity"] == [{"id": "OLT-07", "@referredType": "Resource"}]
    assert tt["relatedParty"] == [{"id": "fm-1", "role": "reporter", "@referredType": "PartyRole"}]  # no customer
    assert [c["status"] for c in tt["statusChange"]] == ["acknowledged", "inProgress"]
    assert (tt["statusChangeDate"], tt["statusChangeReason"]) == (T0 + timedelta(minutes=3), "taken")
    assert "resolutionDate" not in tt and "requestedResolutionDate" not in tt
    assert {"name": "workflow_version", "value": 1, "valueType": "integer"} in tt["troubleTicketCharacteristic"]
    assert "assignee" not in {c["name"] for c in tt["troubleTicketCharacteristic"]}

    def nulls(v: object) -> bool:
        if isinstance(v, dict):
            return any(x is None or nulls(x) for x in v.values())
        return isinstance(v, list) and any(nulls(x) for x in v)

    assert not nulls(tt)


def test_an_order_ticket_names_its_order_and_customer() -> None:
    tt = trouble_ticket(_row(origin="order", origin_id="ord_1", customer_id="cus_1", customer_name="天津港集团",
                             data={}, severity="moderate", state="resolved"),
                        href="/tt/tkt_1", changes=[StatusChange("resolved", T0)])
    assert {e["id"]: e["@referredType"] for e in tt["relatedEntity"]} == {"ord_1": "ProductOrder",
                                                                          "cus_1": "Organization"}
    assert "externalId" not in tt and tt["priority"] == "medium" and tt["resolutionDate"] == T0
    assert tt["name"] == "complaint_fault generic.complaint"
