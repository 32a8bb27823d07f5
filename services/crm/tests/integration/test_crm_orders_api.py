"""Products and attribute validation, opportunity → order, lifecycles by REST (409 for illegal steps),
Idempotency-Key replay, and the events exactly as documented."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from crm_testkit import DATA_LINE, assert_problem, auth, events_of, payload_matches

from backbone.events import ComplaintCreated, OrderCancelled, OrderStatusChanged, OrderSubmitted
from backbone.topics import CRM_COMPLAINTS, CRM_ORDERS
from crm.domain.lifecycle import COMPLAINT, OPPORTUNITY, ORDER, ComplaintState, OrderState
from crm.domain.products import load_catalogue
from tests.support.kafka_tools import eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")

ADMIN = auth("root", "admin")

VALID = {
    "vpmn": {"member_count": 120, "short_number_length": 4},
    "mobile_switchboard": {"main_number": "02225701234", "extension_count": 80},
    "group_sms": {"platform": "MAS", "sign": "天津港", "monthly_volume": 50000},
    "industry_ota": {"app_id": "tjport.ota", "sim_count": 300},
    "m2m": {"sim_count": 2000, "apn": "tjport.m2m"},
    "mobile_mailbox": {"platform": "ADC", "mailbox_count": 150},
    "dedicated_line_data": {"bandwidth_mbps": 100, "a_end_address": "天津港", "z_end_address": "IDC"},
    "dedicated_line_internet": {"bandwidth_mbps": 200, "a_end_address": "天津港", "ip_count": 8},
}
INVALID = {  # attributes → the attribute paths the 422 must name
    "vpmn": ({"member_count": 1, "short_number_length": 7}, {"member_count", "short_number_length"}),
    "mobile_switchboard": ({"main_number": "12345"}, {"main_number", "extension_count"}),
    "group_sms": ({"platform": "SMS", "sign": "【x】"}, {"platform", "sign"}),
    "industry_ota": ({"app_id": "-bad", "sim_count": 0}, {"app_id", "sim_count"}),
    "m2m": ({"sim_count": 5, "apn": "bad..apn", "speed": 1}, {"apn", "speed"}),
    "mobile_mailbox": ({"mailbox_count": "many"}, {"platform", "mailbox_count"}),
    "dedicated_line_data": ({"bandwidth_mbps": 99, "a_end_address": ""}, {"bandwidth_mbps", "a_end_address",
                                                                           "z_end_address"}),
    "dedicated_line_internet": ({"bandwidth_mbps": 100, "a_end_address": "天津港大道1号", "ip_count": 1000},
                                {"ip_count"}),
}


async def test_catalogue_lists_every_product_with_its_schema(crm):
    r = await crm.http.get("/api/v1/products", headers=auth("ns", "network_staff"))
    assert r.status_code == 200
    assert {p["id"] for p in r.json()} == set(VALID)
    d = (await crm.http.get("/api/v1/products/dedicated_line_data", headers=auth("ns", "network_staff"))).json()
    assert d["attributes_schema"]["required"] == ["bandwidth_mbps", "a_end_address", "z_end_address"]
    assert d["schemas_by_business_kind"]["cancellation"]["required"] == []
    assert (await crm.http.get("/api/v1/products/teleport", headers=ADMIN)).status_code == 404


@pytest.mark.parametrize("product", sorted(VALID))
async def test_order_item_attributes_are_validated_against_the_product_schema(crm, am, product):
    assert set(VALID) == {p.id.value for p in load_catalogue()}
    c = await crm.customer(am)
    me = auth(am, "account_manager")
    good = {"customer_id": c["id"], "items": [{"product": product, "business_kind": "opening",
                                               "attributes": VALID[product]}]}
    assert (await crm.http.post("/api/v1/orders", json=good, headers=me)).status_code == 201
    attrs, fields = INVALID[product]
    bad = {"customer_id": c["id"], "items": [good["items"][0], {"product": product, "business_kind": "opening",
                                                                "attributes": attrs}]}
    problem = assert_problem(await crm.http.post("/api/v1/orders", json=bad, headers=me), 422, "items.1.attributes")
    assert {e["field"] for e in problem["errors"]} == {f"items.1.attributes.{f}" for f in fields}
    listed = (await crm.http.get("/api/v1/orders", params={"customer_id": c["id"]}, headers=me)).json()["items"]
    assert len(listed) == 1, "the rejected order wrote nothing"


async def test_bad_product_and_bad_kind_name_the_item_field(crm, am):
    c = await crm.customer(am)
    me = auth(am, "account_manager")
    r = await crm.http.post("/api/v1/orders", headers=me, json={
        "customer_id": c["id"], "items": [{"product": "teleport", "business_kind": "opening"}]})
    assert assert_problem(r, 422, "items.0.product")["errors"][0]["field"].startswith("items.0.product")
    r = await crm.http.post("/api/v1/orders", headers=me, json={
        "customer_id": c["id"], "items": [{**DATA_LINE, "business_kind": "relocation"}]})
    assert_problem(r, 422, "items.0.business_kind")
    r = await crm.http.post("/api/v1/orders", headers=me, json={"customer_id": "cus_nobody", "items": [DATA_LINE]})
    assert_problem(r, 404, "customer_id")


async def test_the_thin_slice_contract_for_the_demo_customer(crm):
    r = await crm.http.post("/api/v1/orders", headers=auth("am_zhang", "account_manager"), json={
        "customer_id": "cus_tj_port", "channel": "account_manager", "submit": True, "items": [DATA_LINE]})
    assert r.status_code == 201, r.text
    o = r.json()
    assert o["status"] == "submitted" and o["tickets"] == [] and o["items"][0]["product"] == "dedicated_line_data"
    assert (await crm.http.get(f"/api/v1/orders/{o['id']}", headers=auth("am_zhang", "account_manager"))).json()[
        "id"] == o["id"]


# ---------------------------------------------------------------- opportunity → order


async def test_an_order_may_name_a_confirmed_opportunity_of_the_same_customer(crm, am):
    c, other = await crm.customer(am), await crm.customer(am)
    me = auth(am, "account_manager")
    opp = (await crm.http.post("/api/v1/opportunities", headers=me, json={
        "customer_id": c["id"], "title": "港区专线扩容", "products": ["dedicated_line_data"]})).json()
    assert opp["status"] == "open"
    body = {"customer_id": c["id"], "items": [DATA_LINE], "opportunity_id": opp["id"]}
    assert_problem(await crm.http.post("/api/v1/orders", json=body, headers=me), 409, "opportunity_id")
    r = await crm.http.post(f"/api/v1/opportunities/{opp['id']}/confirm", headers=me)
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    assert_problem(await crm.http.post(f"/api/v1/opportunities/{opp['id']}/lose", headers=me), 409)
    r = await crm.http.post("/api/v1/orders", json=body, headers=me)
    assert r.status_code == 201 and r.json()["opportunity_id"] == opp["id"]
    r = await crm.http.post("/api/v1/orders", json={**body, "customer_id": other["id"]}, headers=me)
    assert_problem(r, 422, "opportunity_id")
    # without an opportunity: allowed for every channel (docs/crm.md)
    for channel in ("account_manager", "agent", "web_portal"):
        r = await crm.http.post("/api/v1/orders", headers=me, json={"customer_id": c["id"], "channel": channel,
                                                                     "items": [DATA_LINE]})
        assert r.status_code == 201 and r.json()["channel"] == channel


@pytest.mark.parametrize(("state", "action"), [(s, a) for s in OPPORTUNITY.states for a in OPPORTUNITY.actions])
async def test_opportunity_lifecycle_table(crm, am, state, action):
    c = await crm.customer(am)
    me = auth(am, "account_manager")
    opp = (await crm.http.post("/api/v1/opportunities", headers=me,
                               json={"customer_id": c["id"], "title": "t"})).json()
    to = {"confirmed": "confirm", "lost": "lose"}.get(state.value)
    if to:
        assert (await crm.http.post(f"/api/v1/opportunities/{opp['id']}/{to}", headers=me)).status_code == 200
    r = await crm.http.post(f"/api/v1/opportunities/{opp['id']}/{action.value}", headers=me)
    if OPPORTUNITY.is_allowed(state, action):
        assert r.status_code == 200 and r.json()["status"] == OPPORTUNITY.transitions[(state, action)].value
    else:
        assert_problem(r, 409, "status")


# ---------------------------------------------------------------- lifecycles by REST

# How an order reaches each state by REST; the steps after submit are the admin's overrides
# (in production they follow the EOMS tickets).
ORDER_PATHS: dict[OrderState, list[tuple[str, dict[str, str]]]] = {
    OrderState.DRAFT: [],
    OrderState.SUBMITTED: [("submit", {})],
    OrderState.IN_PROGRESS: [("submit", {}), ("start", {})],
    OrderState.OPENED: [("submit", {}), ("start", {}), ("open", {})],
    OrderState.REJECTED: [("submit", {}), ("reject", {"reason": "no port"})],
    OrderState.CANCELLED: [("cancel", {"reason": "customer withdrew"})],
    OrderState.CLOSED: [("cancel", {"reason": "customer withdrew"}), ("close", {})],
}


async def _walk(crm, url: str, steps: list[tuple[str, dict[str, str]]]) -> None:
    for action, body in steps:
        r = await crm.http.post(f"{url}/{action}", json=body, headers=ADMIN)
        # `start` may already have happened: the EOMS bridge (if running) opens a ticket on submit
        assert r.status_code == 200 or (action == "start" and r.json().get("from_state") == "in_progress"), r.text


@pytest.mark.parametrize(("state", "action"), [(s, a) for s in ORDER.states for a in ORDER.actions])
async def test_order_lifecycle_table(crm, am, state, action):
    c = await crm.customer(am)
    order = await crm.order(am, c["id"])
    url = f"/api/v1/orders/{order['id']}"
    await _walk(crm, url, ORDER_PATHS[state])
    r = await crm.http.post(f"{url}/{action.value}", json={"reason": "because"}, headers=ADMIN)
    if r.status_code == 200:
        last = r.json()["history"][-1]
        # the state the step really started from (the bridge may have moved a submitted order on)
        start = OrderState(last["from"])
        assert start is state or (state is OrderState.SUBMITTED and start is OrderState.IN_PROGRESS)
        assert ORDER.is_allowed(start, action) and last["to"] == ORDER.transitions[(start, action)].value
        assert r.json()["status"] == last["to"]
    else:
        problem = assert_problem(r, 409, "status")
        start = OrderState(problem["from_state"])
        assert not ORDER.is_allowed(start, action), problem
        assert problem["action"] == action.value


async def test_cancel_and_reject_need_a_reason_and_account_managers_cannot_force_feedback_steps(crm, am):
    c = await crm.customer(am)
    me = auth(am, "account_manager")
    order = await crm.order(am, c["id"], submit=True)
    url = f"/api/v1/orders/{order['id']}"
    assert_problem(await crm.http.post(f"{url}/cancel", headers=me), 422, "reason")
    assert_problem(await crm.http.post(f"{url}/open", headers=me), 403)
    r = await crm.http.post(f"{url}/cancel", headers=me, json={"reason": "客户撤单"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["status_reason"] == "客户撤单"


COMPLAINT_PATHS: dict[ComplaintState, list[tuple[str, dict[str, Any]]]] = {
    ComplaintState.CREATED: [],
    ComplaintState.DISPATCHED: [("dispatch", {})],
    ComplaintState.RESOLVED: [("dispatch", {}), ("resolve", {})],
    ComplaintState.REVISITED: [("dispatch", {}), ("resolve", {}), ("revisit", {"satisfaction": 4})],
    ComplaintState.ARCHIVED: [("dispatch", {}), ("resolve", {}), ("revisit", {"satisfaction": 4}), ("archive", {})],
}


@pytest.mark.parametrize(("state", "action"), [(s, a) for s in COMPLAINT.states for a in COMPLAINT.actions])
async def test_complaint_lifecycle_table(crm, am, state, action):
    c = await crm.customer(am)
    complaint = await crm.complaint(am, c["id"], product=None)  # no product: no EOMS ticket moves it meanwhile
    url = f"/api/v1/complaints/{complaint['id']}"
    for step, body in COMPLAINT_PATHS[state]:
        r = await crm.http.post(f"{url}/{step}", json=body, headers=ADMIN)
        assert r.status_code == 200 or (step == "dispatch" and r.status_code == 409), r.text
    body = {"satisfaction": 5} if action.value == "revisit" else {}
    r = await crm.http.post(f"{url}/{action.value}", json=body, headers=ADMIN)
    if r.status_code == 200:
        last = r.json()["history"][-1]
        start = ComplaintState(last["from"])
        assert COMPLAINT.is_allowed(start, action) and last["to"] == COMPLAINT.transitions[(start, action)].value
        if action.value == "revisit":
            assert r.json()["satisfaction"] == 5
    else:
        problem = assert_problem(r, 409, "status")
        assert not COMPLAINT.is_allowed(ComplaintState(problem["from_state"]), action)


@pytest.mark.parametrize("satisfaction", [None, 0, 6])
async def test_revisit_needs_a_satisfaction_of_1_to_5(crm, am, satisfaction):
    c = await crm.customer(am)
    complaint = await crm.complaint(am, c["id"], product=None)
    url = f"/api/v1/complaints/{complaint['id']}"
    for step in ("dispatch", "resolve"):
        await crm.http.post(f"{url}/{step}", headers=ADMIN)
    r = await crm.http.post(f"{url}/revisit", json={"satisfaction": satisfaction}, headers=auth(am, "account_manager"))
    assert_problem(r, 422, "satisfaction")
    assert (await crm.http.get(url, headers=ADMIN)).json()["status"] == "resolved"


# ---------------------------------------------------------------- idempotency


async def test_idempotency_key_replays_the_first_reply_and_creates_nothing_new(crm, am):
    c = await crm.customer(am)
    me = {**auth(am, "account_manager"), "Idempotency-Key": f"k-{uuid.uuid4()}"}
    body = {"customer_id": c["id"], "items": [DATA_LINE], "submit": True, "note": "首单"}
    first = await crm.http.post("/api/v1/orders", json=body, headers=me)
    assert first.status_code == 201
    again = await crm.http.post("/api/v1/orders", json=dict(reversed(body.items())), headers=me)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true" and again.headers["location"] == first.headers["location"]
    concurrent = await asyncio.gather(*[crm.http.post("/api/v1/orders", json=body, headers=me) for _ in range(5)])
    assert {r.json()["id"] for r in concurrent} == {first.json()["id"]}
    other = await crm.http.post("/api/v1/orders", json={**body, "note": "另一单"}, headers=me)
    assert_problem(other, 422, "Idempotency-Key")
    listed = (await crm.http.get("/api/v1/orders", params={"customer_id": c["id"]}, headers=me)).json()["items"]
    assert [o["id"] for o in listed] == [first.json()["id"]]

    async def submitted():
        return await events_of(crm.infra.kafka_bootstrap, CRM_ORDERS, first.json()["id"], {"crm.order.submitted"})

    await eventually(submitted, what="crm.order.submitted")
    assert len(await submitted()) == 1
    # the key is the principal's: another user's same key is another request
    admin = {**ADMIN, "Idempotency-Key": me["Idempotency-Key"]}
    assert (await crm.http.post("/api/v1/orders", json=body, headers=admin)).json()["id"] != first.json()["id"]
    # a retry is answered the first reply whatever changed since: the customer now another manager's (a new
    # request of the same body answers 404)
    moved = await crm.http.patch(f"/api/v1/customers/{c['id']}", headers=ADMIN, json={"account_manager_id": am + "_2"})
    assert moved.status_code == 200
    late = await crm.http.post("/api/v1/orders", json=body, headers=me)
    assert late.status_code == 201 and late.json() == first.json() and late.headers["idempotent-replayed"] == "true"
    fresh = {**me, "Idempotency-Key": f"k-{uuid.uuid4()}"}
    assert_problem(await crm.http.post("/api/v1/orders", json=body, headers=fresh), 404, "customer_id")


async def test_idempotency_on_actions_and_failed_requests_are_not_stored(crm, am):
    c = await crm.customer(am)
    order = await crm.order(am, c["id"])
    key = {**auth(am, "account_manager"), "Idempotency-Key": f"k-{uuid.uuid4()}"}
    url = f"/api/v1/orders/{order['id']}/cancel"
    assert_problem(await crm.http.post(url, headers=key), 422, "reason")  # rolled back, key included
    first = await crm.http.post(url, json={"reason": "撤单"}, headers=key)
    assert first.status_code == 200
    again = await crm.http.post(url, json={"reason": "撤单"}, headers=key)
    assert again.status_code == 200 and again.json() == first.json()  # not a 409: the first reply
    assert_problem(await crm.http.post(url, json={"reason": "x"}, headers={**key, "Idempotency-Key": "x" * 201}),
                   422, "Idempotency-Key")


# ---------------------------------------------------------------- events as documented


async def test_order_events_are_emitted_exactly_as_documented(crm, am):
    c = await crm.customer(am)
    order = await crm.order(am, c["id"], submit=True)
    assert order["customer_name"] == c["name"], "the created order names its customer"
    r = await crm.http.post(f"/api/v1/orders/{order['id']}/cancel", json={"reason": "客户撤单"},
                            headers=auth(am, "account_manager"))
    assert r.status_code == 200

    async def events():
        found = await events_of(crm.infra.kafka_bootstrap, CRM_ORDERS, order["id"])
        return found if any(e.type == "crm.order.cancelled" for e in found) else None

    found = await eventually(events, what="the order's events")
    kinds = [e.type for e in found]
    assert kinds[0] == "crm.order.submitted"
    submitted = payload_matches(found[0])
    assert isinstance(submitted, OrderSubmitted)
    assert (submitted.order_id, submitted.customer_id, submitted.account_manager_id) == (order["id"], c["id"], am)
    assert submitted.customer_tier == "B" and submitted.items[0].business_type == "dedicated_line_data.opening"
    assert submitted.customer_region == "天津-西青区", "the region travels with the order (the SLA board filters on it)"
    assert submitted.items[0].attributes == DATA_LINE["attributes"]
    cancelled = [payload_matches(e) for e in found if e.type == "crm.order.cancelled"]
    assert len(cancelled) == 1 and isinstance(cancelled[0], OrderCancelled) and cancelled[0].reason == "客户撤单"
    changes = [payload_matches(e) for e in found if e.type == "crm.order.status_changed"]
    assert all(isinstance(x, OrderStatusChanged) for x in changes)
    steps = [(x.from_status, x.to_status) for x in changes]
    assert steps[0] == ("draft", "submitted") and steps[-1][1] == "cancelled"
    assert all(e.source == "crm" and e.subject == order["id"] for e in found)
    me = auth(am, "account_manager")
    assert (await crm.http.get(f"/api/v1/orders/{order['id']}", headers=me)).json()["customer_name"] == c["name"]
    listed = (await crm.http.get("/api/v1/orders", params={"customer_id": c["id"]}, headers=me)).json()["items"]
    assert [o["customer_name"] for o in listed] == [c["name"]]


async def test_complaint_created_event_is_emitted_exactly_as_documented(crm, am):
    c = await crm.customer(am)
    complaint = await crm.complaint(am, c["id"])
    assert complaint["status"] == "created" and complaint["customer_name"] == c["name"]

    async def created():
        return await events_of(crm.infra.kafka_bootstrap, CRM_COMPLAINTS, complaint["id"], {"crm.complaint.created"})

    event = payload_matches((await eventually(created, what="crm.complaint.created"))[0])
    assert isinstance(event, ComplaintCreated)
    assert (event.complaint_id, event.customer_id, event.account_manager_id, event.customer_tier) == (
        complaint["id"], c["id"], am, "B")
    assert (event.category, event.severity, event.product) == ("fault", "high", "dedicated_line_data")
    assert event.customer_region == "天津-西青区"


async def test_the_login_page_learns_how_to_sign_in_without_a_token(crm):
    r = await crm.http.get("/api/v1/auth/config")
    assert r.status_code == 200, r.text
    assert r.json() == {"dev_login": True, "oidc": None}  # the tests' CRM: ENVIRONMENT=test, no OIDC provider
