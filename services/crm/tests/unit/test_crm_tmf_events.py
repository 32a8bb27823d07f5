"""The CRM's TMF events: each mapping is checked against the official TMF622 v4.0.0 event definitions
(/listener bodies) of the specification shipped in the design folder, with jsonschema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator

from backbone.envelope import Envelope
from backbone.events import (
    ComplaintCreated,
    ComplaintStatusChanged,
    OrderCancellationRequested,
    OrderCancellationStateChanged,
    OrderDiscarded,
    OrderItem,
    OrderStatusChanged,
    OrderSubmitted,
    OrderUpdated,
    SlaBreached,
    SlaEscalated,
    SlaWarning,
    TicketResolved,
)
from backbone.hub.fanout import body_bytes
from backbone.hub.model import hub_event_id
from crm import tmf_events as te

SPEC = json.loads((Path(__file__).resolve().parents[4] / ".." / "shared" / "specs" /
                   "TMF622-ProductOrdering-v4.0.0.swagger.json").read_text())
AT = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
ITEMS = [te.Item("itm_1", "opening", "dedicated_line_data"), te.Item("itm_2", "change", "vpmn")]


def check(body: dict[str, Any], definition: str) -> None:
    schema = {"$ref": f"#/definitions/{definition}", "definitions": SPEC["definitions"]}
    errors = sorted(Draft4Validator(schema).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors]
    assert None not in json.loads(body_bytes(body)).values()  # absent fields are omitted, never null


def envelope(payload: Any, subject: str = "ord_1") -> Envelope:
    return Envelope.wrap(payload, source="crm", subject=subject, correlation_id="corr-1")


def submitted() -> OrderSubmitted:
    return OrderSubmitted(
        order_id="ord_1", customer_id="cus_1", customer_name="Tianjin Port Group", customer_tier="A",
        account_manager_id="am_1", channel="account_manager", submitted_at=AT,
        items=[OrderItem(item_id="itm_1", product="dedicated_line_data", business_kind="opening",
                         business_type="dedicated_line_data.opening")])


def alert_fields() -> dict[str, Any]:
    return dict(timer_id="tmr_1", ticket_id="tkt_1", ticket_kind="service_opening",
                business_type="dedicated_line_data.opening", node="resource_check", role="network_resource",
                customer_id="cus_1", customer_name="Tianjin Port Group", customer_tier="A", account_manager_id="am_1",
                deadline=AT, policy_version="v1")


def test_a_submitted_order_is_a_create_event_conformant_to_tmf622() -> None:
    env = envelope(submitted())
    event = te.order_created(env, submitted())
    check(event.body, "ProductOrderCreateEvent")
    assert event.event_type == "productOrderCreateEvent" and event.entity_id == "ord_1"
    assert event.body["eventId"] == str(hub_event_id(env.id, "productOrderCreateEvent")) == str(event.event_id)
    assert event.body["correlationId"] == "corr-1"
    order = event.body["event"]["productOrder"]
    assert order["state"] == "acknowledged" and order["productOrderItem"][0]["action"] == "add"
    # a redelivery of the same source event maps to the same event id and the same bytes
    again = te.order_created(env, submitted())
    assert again.event_id == event.event_id and body_bytes(again.body) == body_bytes(event.body)


@pytest.mark.parametrize(("old", "new", "state"), [
    ("submitted", "in_progress", "inProgress"), ("in_progress", "opened", "completed"),
    ("in_progress", "rejected", "rejected"), ("submitted", "cancelled", "cancelled"),
])
def test_state_changes_are_state_change_events(old: str, new: str, state: str) -> None:
    change = OrderStatusChanged(order_id="ord_1", customer_id="cus_1", from_status=old, to_status=new,
                                reason="customer withdrew" if new == "cancelled" else None, changed_at=AT)
    event = te.order_state_changed(envelope(change), change, ITEMS)
    assert event is not None
    check(event.body, "ProductOrderStateChangeEvent")
    order = event.body["event"]["productOrder"]
    assert order["state"] == state and event.attributes["productOrder.state"] == state
    if new == "cancelled":
        assert order["cancellationReason"] == "customer withdrew"


def test_a_change_the_tmf_state_does_not_see_is_no_event() -> None:
    for old, new in (("draft", "submitted"), ("opened", "closed")):
        change = OrderStatusChanged(order_id="ord_1", customer_id="cus_1", from_status=old, to_status=new,
                                    changed_at=AT)
        assert te.order_state_changed(envelope(change), change, ITEMS) is None


@pytest.mark.parametrize("alert", [
    SlaWarning(**alert_fields(), warning_point="80%", remaining_seconds=600),
    SlaBreached(**alert_fields(), lateness_seconds=60),
    SlaEscalated(**alert_fields(), level=2, escalate_to_role="supervisor", lateness_seconds=3600),
])
def test_sla_alerts_on_an_orders_ticket_are_jeopardy_alerts(alert: Any) -> None:
    env = envelope(alert, subject="tkt_1")
    event = te.order_jeopardy(env, alert, "ord_1", ITEMS)
    # An extension: shaped like the spec's events, a productOrder with the v5 jeopardyAlert member.
    check(event.body, "ProductOrderAttributeValueChangeEvent")
    assert event.event_type == "productOrderJeopardyAlertEvent" and event.entity_id == "ord_1"
    jeopardy = event.body["event"]["productOrder"]["jeopardyAlert"][0]
    assert jeopardy["jeopardyType"] == env.type.removeprefix("sla.")
    assert event.body["priority"] == te.JEOPARDY_PRIORITY[env.type]


def test_a_resolved_ticket_of_an_order_is_a_milestone() -> None:
    resolved = TicketResolved(
        ticket_id="tkt_1", ticket_kind="service_opening", business_type="dedicated_line_data.opening", origin="order",
        origin_id="ord_1", customer_id="cus_1", customer_name="Tianjin Port Group", customer_tier="A",
        account_manager_id="am_1", workflow_id="wf", workflow_version=1, resolution="resolved", resolved_at=AT)
    event = te.order_milestone(envelope(resolved, "tkt_1"), resolved, ITEMS)
    check(event.body, "ProductOrderAttributeValueChangeEvent")
    assert event.body["event"]["productOrder"]["milestone"][0]["status"] == "resolved"


def test_complaints_are_trouble_ticket_events() -> None:
    created = ComplaintCreated(
        complaint_id="cmp_1", customer_id="cus_1", customer_name="Port", customer_tier="B", account_manager_id="am",
        category="network", severity="high", description="line down", created_at=AT)
    event = te.complaint_created(envelope(created, "cmp_1"), created)
    assert event.body["event"]["troubleTicket"]["status"] == "acknowledged"
    change = ComplaintStatusChanged(complaint_id="cmp_1", customer_id="cus_1", from_status="dispatched",
                                    to_status="resolved", changed_at=AT)
    events = te.complaint_status_changed(envelope(change, "cmp_1"), change)
    assert [e.event_type for e in events] == ["troubleTicketStatusChangeEvent", "troubleTicketResolvedEvent"]
    assert len({e.event_id for e in events}) == 2


def test_the_conformance_check_can_fail() -> None:
    event = te.order_created(envelope(submitted()), submitted())
    bad = json.loads(body_bytes(event.body))
    bad["event"]["productOrder"]["state"] = "opened"  # not a ProductOrderStateType
    del bad["event"]["productOrder"]["productOrderItem"][0]["action"]
    with pytest.raises(AssertionError, match=r"state|action"):
        check(bad, "ProductOrderCreateEvent")


def test_patches_and_cancellation_requests_are_tmf622_events() -> None:
    update = OrderUpdated(order_id="ord_1", customer_id="cus_1", status="draft", changed=["description"], updated_at=AT)
    event = te.order_updated(envelope(update), update, ITEMS)
    check(event.body, "ProductOrderAttributeValueChangeEvent")
    assert event.event_type == "productOrderAttributeValueChangeEvent"

    request = OrderCancellationRequested(cancellation_id="cpo_1", order_id="ord_1", customer_id="cus_1",
                                         reason="budget cut", requested_cancellation_date=AT, requested_at=AT)
    event = te.cancellation_created(envelope(request), request)
    check(event.body, "CancelProductOrderCreateEvent")
    task = event.body["event"]["cancelProductOrder"]
    assert task["state"] == "acknowledged" and task["productOrder"]["id"] == "ord_1" and event.entity_id == "ord_1"

    for to_state, tmf, reason in (("in_progress", "inProgress", None), ("done", "done", None),
                                  ("rejected", "terminatedWithError", "the order is completed")):
        change = OrderCancellationStateChanged(cancellation_id="cpo_1", order_id="ord_1", customer_id="cus_1",
                                               to_state=to_state, order_state="cancelled", reason=reason,
                                               changed_at=AT)
        event = te.cancellation_state_changed(envelope(change), change)
        check(event.body, "CancelProductOrderStateChangeEvent")
        assert event.body["event"]["cancelProductOrder"]["state"] == tmf


def test_a_deleted_draft_is_a_delete_event_from_the_items_it_carried() -> None:
    discarded = OrderDiscarded(order_id="ord_1", customer_id="cus_1", discarded_at=AT, items=[
        OrderItem(item_id="itm_1", product="dedicated_line_data", business_kind="opening",
                  business_type="dedicated_line_data.opening")])
    source = envelope(discarded)
    event = te.order_deleted(source, discarded)
    check(event.body, "ProductOrderDeleteEvent")
    assert event.event_type == "productOrderDeleteEvent" and event.entity_id == "ord_1"
    assert [i["id"] for i in event.body["event"]["productOrder"]["productOrderItem"]] == ["itm_1"]
    assert event.event_id == hub_event_id(source.id, "productOrderDeleteEvent")  # a redelivery: the same id


@pytest.mark.parametrize(("to_state", "order_state"), [
    ("acknowledged", "assessingCancellation"), ("in_progress", "pendingCancellation"), ("done", "cancelled"),
    ("rejected", "completed"),
])
def test_a_cancellation_moves_the_orders_tmf_state(to_state: str, order_state: str) -> None:
    change = OrderCancellationStateChanged(cancellation_id="cpo_1", order_id="ord_1", customer_id="cus_1",
                                           to_state=to_state, order_state=order_state, changed_at=AT,
                                           reason="the order is completed" if to_state == "rejected" else None)
    source = envelope(change)
    event = te.order_state_of_cancellation(source, change, ITEMS)
    check(event.body, "ProductOrderStateChangeEvent")
    assert event.body["event"]["productOrder"]["state"] == order_state
    assert event.event_id != te.cancellation_state_changed(source, change).event_id  # two events of one source
