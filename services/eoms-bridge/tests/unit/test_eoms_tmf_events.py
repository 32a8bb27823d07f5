"""The EOMS bridge's TMF621 hub events: each ticket event maps to its TMF621 event body (eventId
deterministic from the source event, absent fields omitted, the ticket's status in TMF621 words)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from backbone.envelope import Envelope
from backbone.events import (
    TicketAttributesChanged,
    TicketCreated,
    TicketNodeAssigned,
    TicketNodeEntered,
    TicketResolved,
    TicketStateChanged,
)
from backbone.hub.fanout import body_bytes
from backbone.hub.model import hub_event_id
from eoms_bridge import tmf_events as te

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CTX: dict[str, Any] = dict(
    ticket_id="tkt_1", ticket_kind="complaint_fault", business_type="dedicated_line_data.complaint", origin="network",
    origin_id="ALARM-42", customer_id="cus_1", customer_name="Tianjin Port Group", customer_tier="A",
    account_manager_id="am_1", workflow_id="wf", workflow_version=1)
NOTIFICATION = {"eventId", "eventTime", "eventType", "domain", "title", "description", "priority", "timeOcurred",
                "event"}


def wrap(payload: Any) -> Envelope:
    return Envelope.wrap(payload, source="eoms-bridge", subject="tkt_1")


def shaped(event: Any, event_type: str) -> dict[str, Any]:
    body = json.loads(body_bytes(event.body))
    assert set(body) - {"correlationId"} == NOTIFICATION
    assert body["eventType"] == event.event_type == event_type and event.entity_id == "tkt_1"
    tt = body["event"]["troubleTicket"]
    assert tt["id"] == "tkt_1" and tt["href"] == "/tmf-api/troubleTicket/v4/troubleTicket/tkt_1"
    assert tt["@type"] == "TroubleTicket"
    assert "null" not in body_bytes(event.body)
    return tt  # type: ignore[no-any-return]


def test_a_created_ticket_is_a_create_event() -> None:
    created = TicketCreated(**CTX, state="acknowledged", node="fault_triage", role="noc_tester", created_at=AT)
    env = wrap(created)
    event = te.ticket_created(env, created)
    tt = shaped(event, "troubleTicketCreateEvent")
    assert tt["status"] == "acknowledged" and tt["relatedEntity"][0] == {
        "id": "ALARM-42", "role": "network", "@referredType": "Alarm"}
    assert event.event_id == hub_event_id(env.id, "troubleTicketCreateEvent")
    assert te.ticket_created(env, created).body == event.body  # a redelivery: the same event


def test_status_changes_resolutions_and_node_moves() -> None:
    change = TicketStateChanged(**CTX, from_state="in_progress", to_state="pending", reason="waiting for the customer",
                                changed_at=AT)
    tt = shaped(te.ticket_status_changed(wrap(change), change), "troubleTicketStatusChangeEvent")
    assert tt["status"] == "pending" and tt["statusChange"][0]["changeReason"] == "waiting for the customer"
    same = TicketStateChanged(**CTX, from_state="acknowledged", to_state="acknowledged", changed_at=AT)
    assert te.ticket_status_changed(wrap(same), same) is None

    resolved = TicketResolved(**CTX, resolution="resolved", resolved_at=AT, node="fault_repair")
    tt = shaped(te.ticket_resolved(wrap(resolved), resolved), "troubleTicketResolvedEvent")
    assert tt["status"] == "resolved" and tt["resolutionDate"] == "2026-12-01T09:00:00Z"
    rejected = TicketResolved(**CTX, resolution="rejected", resolved_at=AT, reason="no fault found")
    assert te.ticket_resolved(wrap(rejected), rejected) is None  # its status change says rejected

    entered = TicketNodeEntered(**CTX, node="fault_repair", role="field_engineer", entered_at=AT)
    tt = shaped(te.ticket_node_changed(wrap(entered), entered), "troubleTicketAttributeValueChangeEvent")
    assert {"name": "current_node", "value": "fault_repair"} in tt["characteristic"] and "status" not in tt
    assigned = TicketNodeAssigned(**CTX, node="fault_repair", role="field_engineer", assignee="eng_7", assigned_at=AT)
    tt = shaped(te.ticket_node_changed(wrap(assigned), assigned), "troubleTicketAttributeValueChangeEvent")
    assert {"name": "assignee", "value": "eng_7"} in tt["characteristic"]


def test_every_mapped_source_event_type_exists() -> None:
    from backbone.events import registry

    assert set(te.TICKET_MAPPERS) <= set(registry())


def test_a_network_ticket_naming_no_customer_has_no_related_party() -> None:
    created = TicketCreated(**{**CTX, "customer_id": "", "customer_name": ""}, state="acknowledged",
                            node="complaint_registration", role="complaint_desk", created_at=AT)
    tt = shaped(te.ticket_created(wrap(created), created), "troubleTicketCreateEvent")
    assert "relatedParty" not in tt


def test_a_tmf621_patch_of_attributes_is_an_attribute_value_change() -> None:
    changed = TicketAttributesChanged(**CTX, changed=["severity", "note"], changed_at=AT, actor="tmf:fm-1",
                                      severity="minor", note="flapping")
    tt = shaped(te.ticket_attributes_changed(wrap(changed), changed), "troubleTicketAttributeValueChangeEvent")
    assert (tt["severity"], tt["priority"], tt["note"][0]["text"], tt["note"][0]["author"]) == (
        "minor", "low", "flapping", "tmf:fm-1")
    assert "description" not in tt and "status" not in tt
    assert "eoms.ticket.attributes_changed" in te.TICKET_MAPPERS
