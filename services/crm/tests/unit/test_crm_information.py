"""Information required (crm.domain.information): what fulfilment needs beyond capture, what a cancellation
needs before it is assessed, the TMF622 state and names; and the two InformationRequired events (plus the
pending order's create and state change events) checked against the official TMF622 v4.0.0 listener bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_crm_tmf_events import check, envelope  # the official listener bodies; absent fields never null

from backbone.events import (
    InformationItem,
    OrderCancellationInformationRequired,
    OrderInformationProvided,
    OrderInformationRequired,
)
from backbone.hub.fanout import body_bytes
from backbone.hub.model import hub_event_id
from crm import tmf_events as te
from crm.domain.cancellation import CancellationState, tmf_order_state
from crm.domain.config import InvalidConfiguration, read_data_file
from crm.domain.information import (
    AwaitingInformation,
    check_submit,
    describe,
    field_path,
    missing_for_cancellation,
    missing_for_fulfilment,
    tmf_field,
)
from crm.domain.lifecycle import OrderState
from crm.domain.products import FULFILMENT_REQUIRED, load_catalogue, parse_catalogue

AT = datetime(2026, 12, 2, 3, 30, tzinfo=UTC)
CATALOGUE = load_catalogue()
SIM_PATH = "productOrderItem.0.product.productCharacteristic.sim_delivery_address"


# ------------------------------------------------------------------------------------ fulfilment needs

def test_the_catalogue_names_what_fulfilment_needs_for_an_opening_only() -> None:
    needs = {p.id: p.fulfilment_required() for p in CATALOGUE}
    assert needs["m2m"] == needs["industry_ota"] == ("sim_delivery_address",)
    assert all(not v for k, v in needs.items() if k not in ("m2m", "industry_ota"))
    for p in CATALOGUE:  # a change or a cessation ships no SIM cards
        assert p.fulfilment_required("change") == p.fulfilment_required("cancellation") == ()


@given(st.sets(st.sampled_from(["sim_count", "apn", "sim_delivery_address"])))
def test_missing_is_exactly_what_fulfilment_needs_and_the_item_lacks(given_names: set[str]) -> None:
    attributes = {n: {"sim_count": 10, "apn": "a.b", "sim_delivery_address": "天津港 3 号仓"}[n] for n in given_names}
    items = [{"product": "vpmn", "business_kind": "opening", "attributes": {"member_count": 5}},
             {"product": "m2m", "business_kind": "opening", "attributes": attributes},
             {"product": "m2m", "business_kind": "change", "attributes": {}}]
    missing = missing_for_fulfilment(items, CATALOGUE)
    expected = [] if "sim_delivery_address" in given_names else ["items.1.attributes.sim_delivery_address"]
    assert [m.field for m in missing] == expected
    assert all("fulfilment needs sim_delivery_address" in m.reason for m in missing)


@pytest.mark.parametrize(("names", "match"), [
    (["apn"], "capture does not require"),  # capture requires it already
    (["nosuch"], "capture does not require"),  # not a property
    ("sim_delivery_address", "list of attribute names"),
])
def test_a_wrong_fulfilment_list_is_refused_at_load(names: Any, match: str) -> None:
    data = read_data_file("products.yaml")
    for p in data["products"]:
        if p["id"] == "m2m":
            p["schema"][FULFILMENT_REQUIRED] = names
    with pytest.raises(InvalidConfiguration, match=match):
        parse_catalogue(data)


def test_a_held_back_draft_is_not_submitted_before_the_information_is_given() -> None:
    check_submit(None)
    check_submit([])
    missing = [m.as_dict() for m in missing_for_fulfilment(
        [{"product": "m2m", "business_kind": "opening", "attributes": {"sim_count": 1, "apn": "a"}}], CATALOGUE)]
    with pytest.raises(AwaitingInformation) as exc:
        check_submit(missing)
    assert exc.value.field == "items.0.attributes.sim_delivery_address" and exc.value.code == "information_required"
    assert SIM_PATH in exc.value.message


# ------------------------------------------------------------------------------------ cancellation needs

@pytest.mark.parametrize("state", list(OrderState))
@pytest.mark.parametrize("reason", [None, "", "   ", "客户撤单"])
def test_a_cancellation_of_an_order_in_progress_needs_a_reason(state: OrderState, reason: str | None) -> None:
    missing = missing_for_cancellation(state, reason)
    if state is OrderState.IN_PROGRESS and not (reason or "").strip():
        assert [m.field for m in missing] == ["cancellationReason"]
        assert describe(missing).startswith("information required: cancellationReason (")
    else:
        assert missing == []


# ------------------------------------------------------------------------------------ states and names

def test_a_held_back_draft_is_pending_and_an_open_cancellation_wins() -> None:
    assert tmf_order_state("draft", information_required=True) == "pending"
    assert tmf_order_state("draft") == "acknowledged"
    assert tmf_order_state("submitted", information_required=True) == "acknowledged"  # only a draft is held back
    assert tmf_order_state("cancelled", information_required=True) == "cancelled"
    assert tmf_order_state("in_progress", None, CancellationState.INFORMATION_REQUIRED) == "assessingCancellation"
    assert tmf_order_state("draft", None, CancellationState.ACKNOWLEDGED, information_required=True) == \
        "assessingCancellation"


def test_native_fields_are_named_as_tmf622_names_them() -> None:
    assert tmf_field("items.0.attributes.sim_delivery_address") == SIM_PATH
    assert tmf_field("items.2.product") == "productOrderItem.2.product.productSpecification.id"
    assert tmf_field("items.1.business_kind") == "productOrderItem.1.action"
    assert tmf_field("customer_id") == "relatedParty" and tmf_field("cancellationReason") == "cancellationReason"
    assert field_path([{"field": "items.0.attributes.a", "reason": "x"}, {"field": "items.1.attributes.b",
                                                                           "reason": "y"}]) == \
        "productOrderItem.0.product.productCharacteristic.a,productOrderItem.1.product.productCharacteristic.b"


# ------------------------------------------------------------------------------------ the events

ITEMS = [te.Item("itm_1", "opening", "m2m")]
MISSING = [InformationItem(field="items.0.attributes.sim_delivery_address",
                           reason="m2m opening: fulfilment needs sim_delivery_address")]


def test_a_captured_order_that_lacks_information_is_created_pending_then_asks_for_it() -> None:
    info = OrderInformationRequired(order_id="ord_1", customer_id="cus_1", missing=MISSING, created=True,
                                    required_at=AT)
    env = envelope(info)
    created, required = te.order_information_required(
        env, info, ITEMS, channel=[{"id": "agent", "name": "agent"}],
        relatedParty=[{"id": "cus_1", "name": "天津港", "role": "customer", "@referredType": "Organization"}])
    check(created.body, "ProductOrderCreateEvent")
    check(required.body, "ProductOrderInformationRequiredEvent")
    assert created.event_type == "productOrderCreateEvent"
    assert created.body["event"]["productOrder"]["state"] == "pending"
    assert required.event_type == "productOrderInformationRequiredEvent" and required.entity_id == "ord_1"
    assert required.body["fieldPath"] == SIM_PATH
    assert required.body["event"]["productOrder"]["state"] == "pending"
    assert SIM_PATH in required.body["description"] and required.attributes == {"productOrder.state": "pending"}
    assert required.body["eventId"] == str(hub_event_id(env.id, "productOrderInformationRequiredEvent"))
    assert created.event_id != required.event_id
    # asked again later (a PATCH left something out): no second create event
    again = OrderInformationRequired(order_id="ord_1", customer_id="cus_1", missing=MISSING, required_at=AT)
    assert [e.event_type for e in te.order_information_required(envelope(again), again, ITEMS)] == [
        "productOrderInformationRequiredEvent"]


def test_the_information_given_moves_the_order_from_pending_to_acknowledged() -> None:
    provided = OrderInformationProvided(order_id="ord_1", customer_id="cus_1", provided_at=AT,
                                        provided=["items.0.attributes.sim_delivery_address"])
    event = te.order_information_provided(envelope(provided), provided, ITEMS)
    check(event.body, "ProductOrderStateChangeEvent")
    assert event.event_type == "productOrderStateChangeEvent"
    assert event.body["event"]["productOrder"]["state"] == "acknowledged"
    assert "pending -> acknowledged" in event.body["description"] and SIM_PATH in event.body["description"]


def test_a_cancellation_waiting_for_its_reason_is_a_conformant_information_required_event() -> None:
    info = OrderCancellationInformationRequired(
        cancellation_id="cnl_1", order_id="ord_1", customer_id="cus_1", required_at=AT,
        missing=[InformationItem(field="cancellationReason", reason="the order's EOMS tickets are being worked")])
    env = envelope(info)
    event = te.cancellation_information_required(env, info)
    check(event.body, "CancelProductOrderInformationRequiredEvent")
    assert event.event_type == "cancelProductOrderInformationRequiredEvent" and event.entity_id == "ord_1"
    assert event.body["fieldPath"] == "cancellationReason"
    task = event.body["event"]["cancelProductOrder"]
    assert task["state"] == "acknowledged" and task["id"] == "cnl_1" and task["productOrder"]["id"] == "ord_1"
    again = te.cancellation_information_required(env, info)  # a redelivery: the same id and bytes
    assert again.event_id == event.event_id and body_bytes(again.body) == body_bytes(event.body)


def test_both_events_are_in_the_order_hub_and_mapped() -> None:
    assert {te.ORDER_INFORMATION_REQUIRED, te.CANCEL_INFORMATION_REQUIRED} <= te.ORDER_EVENT_TYPES
    assert {"crm.order.information_required", "crm.order.information_provided",
            "crm.order.cancellation_information_required"} <= set(te.ORDER_MAPPERS)
