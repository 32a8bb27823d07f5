"""TMF622 information required, end to end on real PostgreSQL, Kafka and a real HTTP listener.

An M2M order POSTed without `sim_delivery_address` (fulfilment ships SIM cards there) is `pending`, held back
from the EOMS; the listener gets productOrderCreateEvent (pending) and productOrderInformationRequiredEvent
whose `fieldPath` names the characteristic; a PATCH that gives something else leaves it pending, the PATCH
that gives it moves it to acknowledged and only then is `crm.order.submitted` (fulfilment) published.
A cancellation of an order in progress without a `cancellationReason` waits (acknowledged, the order
assessingCancellation) with cancelProductOrderInformationRequiredEvent; a new POST with the reason completes
the same request. Every callback is signed and conforms to the specification's listener body.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from crm_testkit import Crm, assert_problem, assert_tmf_error, auth, events_of
from jsonschema import Draft4Validator
from test_crm_hub import ADMIN, HUB, crm, subscribe  # noqa: F401  (the hub tests' CRM: fast retries)

from backbone.topics import CRM_ORDERS
from tests.support.hub_listener import Callback, Listener

pytestmark = [pytest.mark.infra, pytest.mark.asyncio(loop_scope="session")]

BASE = "/tmf-api/productOrderingManagement/v4"
PO, CANCEL = f"{BASE}/productOrder", f"{BASE}/cancelProductOrder"
SIM_PATH = "productOrderItem.0.product.productCharacteristic.sim_delivery_address"
SPEC = json.loads((Path(__file__).resolve().parents[4].parent / "shared" / "specs" /
                   "TMF622-ProductOrdering-v4.0.0.swagger.json").read_text())


def conforms(body: Any, definition: str) -> Any:
    schema = {"$ref": f"#/definitions/{definition}", "definitions": SPEC["definitions"]}
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in Draft4Validator(schema).iter_errors(body)]
    assert not errors, (definition, errors)
    return body


def event_conforms(c: Callback) -> bool:
    """A standard event against its own listener body; the extension events are not expected here."""
    event_type = c.json["eventType"]
    return bool(conforms(c.json, event_type[0].upper() + event_type[1:]))


def m2m_body(customer_id: str, **characteristics: Any) -> dict[str, Any]:
    values = {"sim_count": 2000, "apn": "tjport.m2m", **characteristics}
    return {"relatedParty": [{"id": customer_id, "role": "customer", "@referredType": "Organization"}],
            "productOrderItem": [{"id": "1", "action": "add", "product": {
                "productSpecification": {"id": "m2m"},
                "productCharacteristic": [{"name": k, "value": v} for k, v in values.items()]}}]}


def of(listener: Listener, order_id: str) -> list[Callback]:
    """The order's callbacks, first delivery of each event, in arrival order."""
    first: dict[str, Callback] = {}
    for c in listener.accepted():
        event = c.json["event"]
        resource = event.get("productOrder") or event["cancelProductOrder"]["productOrder"]
        if resource["id"] == order_id:
            first.setdefault(c.event_id, c)
    return list(first.values())


def seen(listener: Listener, order_id: str) -> list[tuple[str, str]]:
    """(eventType, state of the resource) of each of the order's events."""
    out = []
    for c in of(listener, order_id):
        event = c.json["event"]
        out.append((c.json["eventType"], (event.get("productOrder") or event["cancelProductOrder"])["state"]))
    return out


def has(listener: Listener, order_id: str, event_type: str, state: str) -> Callable[[Listener], bool]:
    return lambda lst: (event_type, state) in seen(lst, order_id)


@asynccontextmanager
async def subscribed(crm: Crm) -> AsyncIterator[Listener]:  # noqa: F811
    """A real listener registered on the hub for the test, unregistered and stopped after it."""
    listener = await Listener().start()
    try:
        sub = await subscribe(crm, listener)
        yield listener
        await crm.http.delete(f"{HUB}/{sub['id']}", headers=ADMIN)
    finally:
        await listener.stop()


async def customer_of(crm: Crm, name: str) -> tuple[str, dict[str, str], dict[str, Any]]:  # noqa: F811
    """A fresh account manager, their token headers and a customer of theirs."""
    manager = crm.manager(name)
    return manager, auth(manager, "account_manager"), await crm.customer(manager)


async def test_an_order_lacking_what_fulfilment_needs_is_pending_until_patched(crm: Crm) -> None:  # noqa: F811
    async with subscribed(crm) as listener:
        _, me, customer = await customer_of(crm, "info")
        r = await crm.http.post(PO, json=m2m_body(customer["id"]), headers=me)
        assert r.status_code == 201, r.text
        po = conforms(r.json(), "ProductOrder")
        assert po["state"] == "pending" and po["productOrderItem"][0]["state"] == "pending"
        assert [m["fieldPath"] for m in po["informationRequired"]] == [SIM_PATH]
        url = f"{PO}/{po['id']}"
        assert (await crm.http.get(url, headers=me)).json()["state"] == "pending"
        listed = await crm.http.get(PO, params={"state": "pending", "limit": 200}, headers=me)
        assert po["id"] in [x["id"] for x in listed.json()]
        acknowledged = await crm.http.get(PO, params={"state": "acknowledged", "limit": 200}, headers=me)
        assert po["id"] not in [x["id"] for x in acknowledged.json()]
        await listener.wait_for(has(listener, po["id"], "productOrderInformationRequiredEvent", "pending"))
        required = [c for c in of(listener, po["id"]) if c.json["eventType"] == "productOrderInformationRequiredEvent"]
        assert required[0].json["fieldPath"] == SIM_PATH

        # the native face may not submit it before the information is given (409 naming the field)
        assert_problem(await crm.http.post(f"/api/v1/orders/{po['id']}/submit", headers=me), 409,
                       "items.0.attributes.sim_delivery_address")
        # a PATCH that gives something else: still pending, nothing goes to fulfilment
        r = await crm.http.patch(url, json={"description": "港区物联网卡"}, headers=me)
        assert r.status_code == 200 and r.json()["state"] == "pending", r.text
        # a wrong value is a 400 naming the characteristic
        bad = m2m_body(customer["id"], sim_delivery_address="")["productOrderItem"]
        assert_tmf_error(await crm.http.patch(url, json={"productOrderItem": bad}, headers=me), 400, SIM_PATH)
        # the PATCH that gives it: acknowledged, submitted to fulfilment
        items = m2m_body(customer["id"], sim_delivery_address="天津港 3 号仓库")["productOrderItem"]
        r = await crm.http.patch(url, json={"productOrderItem": items}, headers=me)
        assert r.status_code == 200, r.text
        done = conforms(r.json(), "ProductOrder")
        assert done["state"] == "acknowledged" and "informationRequired" not in done
        native = (await crm.http.get(f"/api/v1/orders/{po['id']}", headers=me)).json()
        assert native["status"] == "submitted"

        await listener.wait_for(has(listener, po["id"], "productOrderStateChangeEvent", "acknowledged"))
        assert seen(listener, po["id"]) == [
            ("productOrderCreateEvent", "pending"),
            ("productOrderInformationRequiredEvent", "pending"),
            ("productOrderAttributeValueChangeEvent", "pending"),  # the description
            ("productOrderAttributeValueChangeEvent", "acknowledged"),  # the items, completing it
            ("productOrderStateChangeEvent", "acknowledged"),
        ]
        assert all(c.signature_ok for c in listener.received)
        assert all(event_conforms(c) for c in of(listener, po["id"]))
        # the domain events: held back, then given, and only then submitted (the EOMS opens tickets from it)
        types = [e.type for e in await events_of(crm.infra.kafka_bootstrap, CRM_ORDERS, po["id"])]
        assert types == ["crm.order.information_required", "crm.order.updated", "crm.order.updated",
                         "crm.order.information_provided", "crm.order.submitted", "crm.order.status_changed"]


async def test_a_cancellation_waits_for_its_reason_then_the_same_request_goes_on(crm: Crm) -> None:  # noqa: F811
    async with subscribed(crm) as listener:
        manager, me, customer = await customer_of(crm, "infoc")
        order = await crm.order(manager, customer["id"], submit=True)
        root = auth("root", "admin")
        assert (await crm.http.post(f"/api/v1/orders/{order['id']}/start", headers=root)).status_code == 200
        # in progress, no reason: the request waits, acknowledged, and says what for
        r = await crm.http.post(CANCEL, json={"productOrder": {"id": order["id"]}}, headers=me)
        assert r.status_code == 201, r.text
        task = conforms(r.json(), "CancelProductOrder")
        assert task["state"] == "acknowledged" and task["stateReason"].startswith("information required")
        assert [m["fieldPath"] for m in task["informationRequired"]] == ["cancellationReason"]
        assert r.headers["Location"] == task["href"]
        assert (await crm.http.get(f"{PO}/{order['id']}", headers=me)).json()["state"] == "assessingCancellation"
        # asked again without it: the same waiting request, nothing new
        again = (await crm.http.post(CANCEL, json={"productOrder": {"id": order["id"]}}, headers=me)).json()
        assert again["id"] == task["id"] and again["state"] == "acknowledged"
        # with the reason: the same request is assessed and goes on
        r = await crm.http.post(CANCEL, json={"productOrder": {"id": order["id"]}, "cancellationReason": "预算取消"},
                                headers=me)
        assert r.status_code == 201, r.text
        went_on = conforms(r.json(), "CancelProductOrder")
        assert went_on["id"] == task["id"] and went_on["state"] == "inProgress"
        assert went_on["cancellationReason"] == "预算取消"
        assert "stateReason" not in went_on and "informationRequired" not in went_on
        assert (await crm.http.get(f"{PO}/{order['id']}", headers=me)).json()["state"] == "pendingCancellation"
        listed = await crm.http.get(CANCEL, params={"state": "acknowledged", "limit": 200}, headers=me)
        assert task["id"] not in [x["id"] for x in listed.json()]

        await listener.wait_for(has(listener, order["id"], "productOrderStateChangeEvent", "pendingCancellation"))
        steps = [s for s in seen(listener, order["id"]) if s[0] != "productOrderCreateEvent"]
        assert steps[-6:] == [
            ("cancelProductOrderCreateEvent", "acknowledged"),
            ("cancelProductOrderStateChangeEvent", "acknowledged"),
            ("productOrderStateChangeEvent", "assessingCancellation"),
            ("cancelProductOrderInformationRequiredEvent", "acknowledged"),
            ("cancelProductOrderStateChangeEvent", "inProgress"),
            ("productOrderStateChangeEvent", "pendingCancellation"),
        ], steps
        info = [c for c in of(listener, order["id"])
                if c.json["eventType"] == "cancelProductOrderInformationRequiredEvent"]
        assert len(info) == 1 and info[0].json["fieldPath"] == "cancellationReason"
        assert info[0].json["event"]["cancelProductOrder"]["id"] == task["id"]
        assert all(c.signature_ok for c in listener.received)
        assert all(event_conforms(c) for c in of(listener, order["id"]))
