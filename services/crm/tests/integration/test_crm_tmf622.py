"""TMF622 on the CRM beyond create/read: PATCH and DELETE by the order lifecycle, cancelProductOrder through
assessingCancellation → pendingCancellation → cancelled (and rejected when too late), TMF630 conventions
(fields=, paging headers, filters, Error bodies naming the field), TMF621 POST/PATCH as complaints; every
body validated against the official TMF622 v4.0.0 definitions (jsonschema)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import pytest_asyncio
from crm_testkit import DATA_LINE, assert_tmf_error, auth, events_of

from backbone.envelope import Envelope
from backbone.events import TicketClosed, TicketContext, TicketCreated
from backbone.ids import new_id
from backbone.kafka import Producer
from backbone.topics import CRM_ORDERS, EOMS_TICKETS
from tests.support.kafka_tools import eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")

SPEC = json.loads((Path(__file__).resolve().parents[4].parent / "shared" / "specs" /
                   "TMF622-ProductOrdering-v4.0.0.swagger.json").read_text())
PO = "/tmf-api/productOrderingManagement/v4/productOrder"
CANCEL = "/tmf-api/productOrderingManagement/v4/cancelProductOrder"
TT = "/tmf-api/troubleTicket/v4/troubleTicket"


def conforms(body: Any, definition: str) -> Any:
    """The body validates against the official TMF622 definition (formats checked)."""
    schema = {"$ref": f"#/definitions/{definition}", "definitions": SPEC["definitions"]}
    jsonschema.validate(body, schema, format_checker=jsonschema.FormatChecker())
    return body


def no_nulls(value: Any) -> None:
    assert value is not None
    if isinstance(value, dict):
        for v in value.values():
            no_nulls(v)
    elif isinstance(value, list):
        for v in value:
            no_nulls(v)


def tmf_body(customer_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": "港区专线", "channel": [{"id": "agent", "name": "agent"}],
        "relatedParty": [{"id": customer_id, "role": "customer", "@referredType": "Organization"}],
        "productOrderItem": [{"id": "1", "action": "add", "product": {
            "productSpecification": {"id": "dedicated_line_data"},
            "productCharacteristic": [{"name": k, "value": v} for k, v in DATA_LINE["attributes"].items()]}}],
        **extra,
    }


@pytest_asyncio.fixture(loop_scope="session")
async def kafka(crm) -> AsyncIterator[Producer]:
    producer = Producer(crm.infra.kafka_bootstrap, client_id="crm-test-tmf622")
    await producer.start()
    yield producer
    await producer.stop()


async def publish(kafka: Producer, payload: Any, subject: str) -> None:
    raw = Envelope.wrap(payload, source="eoms-bridge", subject=subject).to_bytes()
    await kafka.send_and_wait(EOMS_TICKETS, raw, key=subject.encode())


def ticket_ctx(order_id: str, customer: dict[str, Any]) -> dict[str, Any]:
    return TicketContext(
        ticket_id=new_id("tkt"), ticket_kind="service_opening", business_type="dedicated_line_data.opening",
        origin="order", origin_id=order_id, customer_id=customer["id"], customer_name=customer["name"],
        customer_tier=customer["tier"], account_manager_id=customer["account_manager_id"],
        workflow_id="dedicated_line_data.opening", workflow_version=1,
    ).model_dump()


async def test_create_read_fields_paging_and_filters_conform(crm, am):
    c = await crm.customer(am)
    me = auth(am, "account_manager")
    r = await crm.http.post(PO, json=tmf_body(c["id"]), headers=me)
    assert r.status_code == 201 and r.headers["content-type"] == "application/json;charset=utf-8", r.text
    po = conforms(r.json(), "ProductOrder")
    no_nulls(po)
    assert "cancellationDate" not in po and "completionDate" not in po  # absent, never null
    got = (await crm.http.get(f"{PO}/{po['id']}", headers=me)).json()
    assert conforms(got, "ProductOrder")["state"] == "acknowledged"
    # fields=: only what is asked for, plus id, href, @type and what the schema requires (productOrderItem)
    sel = conforms((await crm.http.get(f"{PO}/{po['id']}", params={"fields": "state,orderDate"},
                                       headers=me)).json(), "ProductOrder")
    assert sel == {"id": po["id"], "href": po["href"], "@type": "ProductOrder", "state": "acknowledged",
                   "orderDate": po["orderDate"], "productOrderItem": po["productOrderItem"]}
    # paging: X-Total-Count is every match, X-Result-Count this page
    await crm.http.post(PO, json=tmf_body(c["id"]), headers=me)
    page = await crm.http.get(PO, params={"limit": 1, "offset": 0}, headers=me)
    assert page.status_code == 200 and int(page.headers["x-result-count"]) == 1
    assert int(page.headers["x-total-count"]) >= 2
    for item in page.json():
        conforms(item, "ProductOrder")
    # filters: state and order dates
    since = (datetime.fromisoformat(po["orderDate"].replace("Z", "+00:00")) - timedelta(seconds=1)).isoformat()
    mine = await crm.http.get(PO, params={"state": "acknowledged", "orderDate.gte": since, "limit": 200}, headers=me)
    assert po["id"] in [x["id"] for x in mine.json()]
    none = await crm.http.get(PO, params={"state": "completed,cancelled", "orderDate.gte": since}, headers=me)
    assert po["id"] not in [x["id"] for x in none.json()]
    later = await crm.http.get(PO, params={"orderDate.gt": "2999-01-01T00:00:00Z"}, headers=me)
    assert later.json() == [] and later.headers["x-total-count"] == "0"
    conforms(assert_tmf_error(await crm.http.get(PO, params={"state": "sleeping"}, headers=me), 400, "state"),
             "Error")
    conforms(assert_tmf_error(await crm.http.get(PO, params={"limit": 0}, headers=me), 400, "limit"), "Error")
    conforms(assert_tmf_error(await crm.http.get(f"{PO}/ord_nope", headers=me), 404), "Error")
    conforms(assert_tmf_error(await crm.http.get(PO, headers={}), 401), "Error")


async def test_bad_bodies_are_400_errors_naming_the_field(crm, am):
    c = await crm.customer(am)
    me = auth(am, "account_manager")
    bad_action = tmf_body(c["id"])
    bad_action["productOrderItem"][0]["action"] = "noChange"
    conforms(assert_tmf_error(await crm.http.post(PO, json=bad_action, headers=me), 400,
                              "productOrderItem.0.action"), "Error")
    no_items = {k: v for k, v in tmf_body(c["id"]).items() if k != "productOrderItem"}
    assert_tmf_error(await crm.http.post(PO, json=no_items, headers=me), 400, "productOrderItem")
    r = await crm.http.post(PO, content=b"{not json", headers={**me, "content-type": "application/json"})
    assert_tmf_error(r, 400)
    assert_tmf_error(await crm.http.post(CANCEL, json={"cancellationReason": "x"}, headers=me), 400,
                     "productOrder")
    assert_tmf_error(await crm.http.post(CANCEL, json={"productOrder": {"id": "ord_nope"}}, headers=me), 400,
                     "productOrder.id")


async def test_patch_and_delete_follow_the_order_lifecycle(crm, am):
    c = await crm.customer(am)
    me = auth(am, "account_manager")
    draft = await crm.order(am, c["id"], note="first")
    url = f"{PO}/{draft['id']}"
    merge = {**me, "content-type": "application/merge-patch+json"}
    # a draft: description, items and channel may change
    items = [{"id": "1", "action": "add", "product": {"productSpecification": {"id": "dedicated_line_data"},
              "productCharacteristic": [{"name": "bandwidth_mbps", "value": 200},
                                        {"name": "a_end_address", "value": "A"},
                                        {"name": "z_end_address", "value": "Z"}]}}]
    r = await crm.http.patch(url, content=json.dumps({"description": "second", "productOrderItem": items,
                                                      "channel": [{"id": "web", "name": "web_portal"}]}),
                             headers=merge)
    assert r.status_code == 200, r.text
    po = conforms(r.json(), "ProductOrder")
    assert po["description"] == "second" and po["channel"][0]["name"] == "web_portal"
    assert {x["name"]: x["value"] for x in po["productOrderItem"][0]["product"]["productCharacteristic"]} == {
        "bandwidth_mbps": 200, "a_end_address": "A", "z_end_address": "Z"}
    # merge-patch null removes the description (absent, not null)
    r = await crm.http.patch(url, json={"description": None}, headers=me)
    assert r.status_code == 200 and "description" not in r.json(), r.text
    # a bad item is a 400 naming its characteristic
    bad = [{**items[0], "product": {**items[0]["product"],
                                    "productCharacteristic": [{"name": "bandwidth_mbps", "value": 7}]}}]
    assert_tmf_error(await crm.http.patch(url, json={"productOrderItem": bad}, headers=me), 400,
                     "productOrderItem.0.product.productCharacteristic")
    # state never changes by PATCH; unknown attributes are not changeable
    assert_tmf_error(await crm.http.patch(url, json={"state": "completed"}, headers=me), 409, "state")
    assert_tmf_error(await crm.http.patch(url, json={"priority": "1"}, headers=me), 400, "priority")
    # the order is submitted: the items may not change any more (409); the same items are no change
    await crm.http.post(f"/api/v1/orders/{draft['id']}/submit", headers=me)
    current = (await crm.http.get(url, headers=me)).json()
    assert_tmf_error(await crm.http.patch(url, json={"productOrderItem": bad}, headers=me), 409, "productOrderItem")
    same = [{k: v for k, v in i.items() if k != "state"} for i in current["productOrderItem"]]
    r = await crm.http.patch(url, json={"productOrderItem": same, "description": "third"}, headers=me)
    assert r.status_code == 200 and r.json()["description"] == "third", r.text
    # DELETE: only a draft
    error = assert_tmf_error(await crm.http.delete(url, headers=me), 409, "state")
    assert error["code"] == "delete_not_allowed"
    other = await crm.order(am, c["id"])
    assert (await crm.http.delete(f"{PO}/{other['id']}", headers=me)).status_code == 204
    assert_tmf_error(await crm.http.get(f"{PO}/{other['id']}", headers=me), 404)
    events = await events_of(crm.infra.kafka_bootstrap, CRM_ORDERS, other["id"], {"crm.order.discarded"})
    assert [e.type for e in events] == ["crm.order.discarded"]
    assert [i["product"] for i in events[0].data["items"]] == ["dedicated_line_data"]  # the rows are gone
    updated = await events_of(crm.infra.kafka_bootstrap, CRM_ORDERS, draft["id"], {"crm.order.updated"})
    assert sorted(updated[0].data["changed"]) == ["channel", "description", "productOrderItem"]
    # another manager's order: 404, never 403 or data
    stranger = auth(f"x{uuid.uuid4().hex[:4]}", "account_manager")
    assert_tmf_error(await crm.http.patch(url, json={"description": "x"}, headers=stranger), 404)
    assert_tmf_error(await crm.http.delete(url, headers=stranger), 404)
    assert_tmf_error(await crm.http.patch(url, json={"description": "x"}, headers=auth("ns", "network_staff")), 403)


async def test_cancellation_moves_through_pending_to_cancelled(crm, am, kafka):
    c = await crm.customer(am)
    me = auth(am, "account_manager")
    po = (await crm.http.post(PO, json=tmf_body(c["id"]), headers=me)).json()
    t = ticket_ctx(po["id"], c)
    now = datetime.now(UTC)
    await publish(kafka, TicketCreated(**t, state="acknowledged", node="data_production", role="network_data",
                                       created_at=now), t["ticket_id"])

    async def in_progress() -> Any:
        got = (await crm.http.get(f"{PO}/{po['id']}", headers=me)).json()
        return got if got["state"] == "inProgress" else None

    await eventually(in_progress, timeout_s=30, what="order inProgress")
    r = await crm.http.post(CANCEL, json={"productOrder": {"id": po["id"]}, "cancellationReason": "客户撤单"},
                            headers={**me, "Idempotency-Key": f"cancel-{po['id']}"})
    assert r.status_code == 201, r.text
    task = conforms(r.json(), "CancelProductOrder")
    assert task["state"] == "inProgress" and task["productOrder"]["id"] == po["id"]
    assert task["cancellationReason"] == "客户撤单" and "effectiveCancellationDate" not in task
    order = conforms((await crm.http.get(f"{PO}/{po['id']}", headers=me)).json(), "ProductOrder")
    assert order["state"] == "pendingCancellation"
    pending = await crm.http.get(PO, params={"state": "pendingCancellation", "limit": 200}, headers=me)
    assert po["id"] in [x["id"] for x in pending.json()]
    # the EOMS cancels the open ticket: the request is done, the order cancelled
    await publish(kafka, TicketClosed(**t, final_state="cancelled", closed_at=now + timedelta(seconds=1),
                                      reason="客户撤单"), t["ticket_id"])

    async def done() -> Any:
        got = (await crm.http.get(f"{CANCEL}/{task['id']}", headers=me)).json()
        return got if got["state"] == "done" else None

    finished = conforms(await eventually(done, timeout_s=30, what="cancellation done"), "CancelProductOrder")
    assert finished["effectiveCancellationDate"]
    order = conforms((await crm.http.get(f"{PO}/{po['id']}", headers=me)).json(), "ProductOrder")
    assert order["state"] == "cancelled" and order["cancellationReason"] == "客户撤单"
    listed = await crm.http.get(CANCEL, params={"state": "done", "fields": "state"}, headers=me)
    assert {"id": task["id"], "href": task["href"], "@type": "CancelProductOrder", "state": "done",
            "productOrder": task["productOrder"]} in listed.json()
    assert int(listed.headers["x-total-count"]) >= 1
    events = await events_of(crm.infra.kafka_bootstrap, CRM_ORDERS, po["id"])
    steps = [(e.type, e.data.get("to_state"), e.data.get("order_state")) for e in events
             if e.type.startswith("crm.order.cancel")]
    assert steps == [
        ("crm.order.cancellation_requested", None, None),
        ("crm.order.cancellation_state_changed", "acknowledged", "assessingCancellation"),
        ("crm.order.cancelled", None, None),
        ("crm.order.cancellation_state_changed", "in_progress", "pendingCancellation"),
        ("crm.order.cancellation_state_changed", "done", "cancelled"),
    ]
    # a replay of the same request (Idempotency-Key) is the first answer, not a second request
    again = await crm.http.post(CANCEL, json={"productOrder": {"id": po["id"]}, "cancellationReason": "客户撤单"},
                                headers={**me, "Idempotency-Key": f"cancel-{po['id']}"})
    assert again.json()["id"] == task["id"]


async def test_a_draft_is_cancelled_at_once_and_a_completed_order_too_late(crm, am):
    c = await crm.customer(am)
    me = auth(am, "account_manager")
    draft = await crm.order(am, c["id"])
    task = (await crm.http.post(CANCEL, json={"productOrder": {"id": draft["id"]}}, headers=me)).json()
    assert conforms(task, "CancelProductOrder")["state"] == "done"
    assert (await crm.http.get(f"{PO}/{draft['id']}", headers=me)).json()["state"] == "cancelled"
    # completed (opened): too late, with the reason; the order is untouched
    order = await crm.order(am, c["id"], submit=True)
    root = auth("root", "admin")
    for step in ("start", "open"):
        assert (await crm.http.post(f"/api/v1/orders/{order['id']}/{step}", headers=root)).status_code == 200
    r = await crm.http.post(CANCEL, json={"productOrder": {"id": order["id"]}, "cancellationReason": "late"},
                            headers=me)
    assert r.status_code == 201, r.text
    late = conforms(r.json(), "CancelProductOrder")
    assert late["state"] == "terminatedWithError" and late["stateReason"].startswith("too late")
    assert (await crm.http.get(f"{PO}/{order['id']}", headers=me)).json()["state"] == "completed"
    # cancelled already: rejected too
    again = (await crm.http.post(CANCEL, json={"productOrder": {"id": draft["id"]}}, headers=me)).json()
    assert again["state"] == "terminatedWithError" and "already" in again["stateReason"]
    # a scheduled cancellation is not supported: 400 naming the field
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    assert_tmf_error(await crm.http.post(CANCEL, json={"productOrder": {"id": order["id"]},
                                                       "requestedCancellationDate": future}, headers=me),
                     400, "requestedCancellationDate")
    # network staff read the requests but may not make one; another manager does not see them
    assert (await crm.http.get(f"{CANCEL}/{late['id']}", headers=auth("ns", "network_staff"))).status_code == 200
    assert_tmf_error(await crm.http.post(CANCEL, json={"productOrder": {"id": order["id"]}},
                                         headers=auth("ns", "network_staff")), 403)
    assert_tmf_error(await crm.http.get(f"{CANCEL}/{late['id']}", headers=auth("am_other", "account_manager")),
                     404)


async def test_tmf621_trouble_ticket_is_a_complaint(crm, am):
    c = await crm.customer(am)
    me = auth(am, "account_manager")
    body = {"description": "专线中断", "severity": "Major", "ticketType": "fault",
            "relatedParty": [{"id": c["id"], "role": "customer"}],
            "relatedEntity": [{"id": "dedicated_line_data", "role": "affectedProduct"},
                              {"id": "TJ-DL-0001", "role": "affectedService"}]}
    r = await crm.http.post(TT, json=body, headers=me)
    assert r.status_code == 201 and r.headers["content-type"] == "application/json;charset=utf-8", r.text
    tt = r.json()
    assert tt["status"] == "acknowledged" and tt["severity"] == "high" and tt["ticketType"] == "fault"
    native = (await crm.http.get(f"/api/v1/complaints/{tt['id']}", headers=me)).json()
    assert native["status"] == "created" and native["product"] == "dedicated_line_data"
    assert_tmf_error(await crm.http.post(TT, json={**body, "severity": "meh"}, headers=me), 400, "severity")
    assert_tmf_error(await crm.http.post(TT, json={**body, "ticketType": "x"}, headers=me), 400, "ticketType")
    url = f"{TT}/{tt['id']}"
    # dispatch follows the EOMS ticket: the account manager may not force it, an admin may
    assert_tmf_error(await crm.http.patch(url, json={"status": "inProgress"}, headers=me), 403)
    assert_tmf_error(await crm.http.patch(url, json={"status": "closed"}, headers=me), 409, "status")
    assert_tmf_error(await crm.http.patch(url, json={"status": "sleeping"}, headers=me), 400, "status")
    assert_tmf_error(await crm.http.patch(url, json={"description": "changed"}, headers=me), 400, "description")
    root = auth("root", "admin")
    assert (await crm.http.patch(url, json={"status": "inProgress"}, headers=root)).json()["status"] == "inProgress"
    assert (await crm.http.patch(url, json={"status": "resolved"}, headers=root)).json()["status"] == "resolved"
    assert_tmf_error(await crm.http.patch(url, json={"status": "closed"}, headers=me), 400, "satisfaction")
    r = await crm.http.patch(url, json={"status": "closed", "satisfaction": 4, "statusChangeReason": "满意"},
                             headers=me)
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text
    native = (await crm.http.get(f"/api/v1/complaints/{tt['id']}", headers=me)).json()
    assert native["status"] == "archived" and native["satisfaction"] == 4
    listed = await crm.http.get(TT, params={"status": "closed", "fields": "status"}, headers=me)
    assert {"id": tt["id"], "href": url, "@type": "TroubleTicket", "status": "closed", "description": "专线中断",
            "severity": "high", "ticketType": "fault"} in listed.json()
