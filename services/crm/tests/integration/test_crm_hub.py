"""The CRM's TMF622 hub against real listeners (HTTP servers on 127.0.0.1), real PostgreSQL and Kafka.

Subscribe, place and cancel orders, receive create → state change events in order with valid signatures
and bodies conformant to the official TMF622 event definitions; a listener that answers 500 for a while
gets everything, in order, once it recovers; a listener that never answers does not hold the others up;
delivery status and redelivery (same event id); the SSRF guard and the query at registration.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from crm_testkit import Crm, auth
from jsonschema import Draft4Validator

from crm.main import build_app
from crm.settings import CrmSettings
from devtools.demo import seed_async
from devtools.infra import Infra
from tests.support.hub_listener import Callback, Listener
from tests.support.kafka_tools import eventually

pytestmark = pytest.mark.infra

HUB = "/tmf-api/productOrderingManagement/v4/hub"
ADMIN = auth("integration-bss", "admin")
SPEC = json.loads((Path(__file__).resolve().parents[4].parent / "shared" / "specs" /
                   "TMF622-ProductOrdering-v4.0.0.swagger.json").read_text())
DEFINITION = {"productOrderCreateEvent": "ProductOrderCreateEvent",
              "productOrderStateChangeEvent": "ProductOrderStateChangeEvent"}


def conformant(c: Callback) -> bool:
    definition = DEFINITION.get(c.json["eventType"], "ProductOrderAttributeValueChangeEvent")
    schema = {"$ref": f"#/definitions/{definition}", "definitions": SPEC["definitions"]}
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in Draft4Validator(schema).iter_errors(c.json)]
    assert not errors, errors
    return True


async def start_at_end(bootstrap: str, group: str, topics: list[str]) -> None:
    """Commit a new consumer group's offsets at the end of `topics`: it reads only what comes next, instead of
    first re-reading every order, ticket and alert the topics hold (slow on a long-lived test infrastructure)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        from backbone.topics import ALL_TOPICS

        partitions = {spec.name: spec.partitions for spec in ALL_TOPICS}
        tps = [TopicPartition(t, p) for t in topics for p in range(partitions[t])]
        consumer.assign(tps)
        await consumer.commit(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def crm(infra: Infra) -> AsyncIterator[Crm]:
    from backbone.topics import CRM_COMPLAINTS, CRM_ORDERS, EOMS_TICKETS, SLA_ALERTS

    run = uuid.uuid4().hex[:8]
    await start_at_end(infra.kafka_bootstrap, f"crm-hub-{run}", [CRM_ORDERS, CRM_COMPLAINTS, EOMS_TICKETS, SLA_ALERTS])
    settings = CrmSettings(
        environment="test", database_url=infra.database_url, kafka_bootstrap_servers=infra.kafka_bootstrap,
        consumer_group=f"crm-hub-{run}", consumer_backoff_initial_s=0.05, db_pool_size=5,
        # retries in fractions of a second, a breaker that opens after 2 failures and half-opens after 1 s
        hub_retry_initial_s=0.2, hub_retry_max_s=1.0, hub_timeout_s=1.0, hub_breaker_failures=2,
        hub_breaker_reset_s=1.0, hub_poll_s=0.05,
    )
    await seed_async(infra.database_url)
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://crm.test", timeout=20) as http:
            yield Crm(http=http, infra=infra, run=run)


async def subscribe(crm: Crm, listener: Listener, query: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"callback": listener.url}
    if query:
        body["query"] = query
    r = await crm.http.post(HUB, json=body, headers=ADMIN)
    assert r.status_code == 201, r.text
    sub = r.json()
    assert r.headers["Location"] == f"{HUB}/{sub['id']}" and sub["callback"] == listener.url and sub["secret"]
    listener.secret = sub["secret"]
    return sub  # type: ignore[no-any-return]


async def place_and_cancel(crm: Crm, manager: str, customer_id: str) -> str:
    order = await crm.order(manager, customer_id, submit=True)
    r = await crm.http.post(f"/api/v1/orders/{order['id']}/cancel", json={"reason": "customer withdrew"},
                            headers=auth(manager, "account_manager"))
    assert r.status_code == 200, r.text
    return str(order["id"])


def of_order(listener: Listener, order_id: str) -> list[Callback]:
    # other resources' events (cancellations, complaints) of other tests may reach a catch-all subscription
    return [c for c in listener.accepted() if (c.json["event"].get("productOrder") or {}).get("id") == order_id]


def cancelled(listener: Listener, order_id: str) -> bool:
    return any(c.json["event"]["productOrder"]["state"] == "cancelled" for c in of_order(listener, order_id))


def assert_in_order(calls: list[Callback]) -> None:
    """Create first, cancellation last, each event once (by eventId), times never going back."""
    first: dict[str, Callback] = {}
    for c in calls:
        first.setdefault(c.event_id, c)
    events = list(first.values())
    assert events[0].json["eventType"] == "productOrderCreateEvent", [e.json["eventType"] for e in events]
    assert events[-1].json["event"]["productOrder"]["state"] == "cancelled"
    times = [e.json["timeOcurred"] for e in events]
    assert times == sorted(times), times


async def test_subscribe_order_cancel_events_arrive_signed_in_order_and_conformant(crm: Crm) -> None:
    listener = await Listener().start()
    try:
        sub = await subscribe(crm, listener)
        r = await crm.http.get(f"{HUB}/{sub['id']}", headers=ADMIN)
        assert r.status_code == 200 and r.json()["callback"] == listener.url and "secret" not in r.json()
        manager = crm.manager("hub")
        customer = await crm.customer(manager)
        order_id = await place_and_cancel(crm, manager, customer["id"])
        await listener.wait_for(lambda lst: cancelled(lst, order_id), within_s=60)
        calls = of_order(listener, order_id)
        assert all(c.signature_ok for c in listener.received)
        assert all(conformant(c) for c in calls)
        assert all(c.headers["x-hub-event-id"] == c.json["eventId"] for c in calls)
        assert_in_order(calls)

        # delivery status, then a redelivery: the same event id and the same bytes again. The worker records
        # "delivered" after the listener's answer reaches it, so the row may lag the callback by a moment.
        async def delivered_create() -> dict[str, Any] | None:
            r = await crm.http.get(f"{HUB}/{sub['id']}/delivery", params={"status": "delivered", "limit": 200},
                                   headers=ADMIN)
            assert r.status_code == 200, r.text
            return next((d for d in r.json()
                         if d["entityId"] == order_id and d["eventType"] == "productOrderCreateEvent"), None)

        created = await eventually(delivered_create, what="the create event's delivery recorded as delivered")
        original = next(c for c in calls if c.event_id == created["eventId"])
        r = await crm.http.post(f"{HUB}/{sub['id']}/delivery/{created['id']}/redeliver", headers=ADMIN)
        assert r.status_code == 202 and r.json()["status"] == "pending", r.text
        await listener.wait_for(lambda lst: sum(c.event_id == created["eventId"] for c in lst.accepted()) == 2)
        again = [c for c in listener.accepted() if c.event_id == created["eventId"]][-1]
        assert again.body == original.body and again.headers["x-hub-attempt"] == "1"

        # unregister: 204, then 404; nothing more is queued for it
        r = await crm.http.delete(f"{HUB}/{sub['id']}", headers=ADMIN)
        assert r.status_code == 204
        r = await crm.http.get(f"{HUB}/{sub['id']}", headers=ADMIN)
        assert r.status_code == 404
    finally:
        await listener.stop()


async def test_a_query_selects_event_types(crm: Crm) -> None:
    listener = await Listener().start()
    try:
        sub = await subscribe(crm, listener, query="eventType=productOrderStateChangeEvent")
        manager = crm.manager("hubq")
        customer = await crm.customer(manager)
        order_id = await place_and_cancel(crm, manager, customer["id"])
        await listener.wait_for(lambda lst: cancelled(lst, order_id))
        assert {c.json["eventType"] for c in listener.accepted()} == {"productOrderStateChangeEvent"}
        await crm.http.delete(f"{HUB}/{sub['id']}", headers=ADMIN)
    finally:
        await listener.stop()


async def test_a_flaky_listener_gets_everything_in_order_and_a_dead_one_holds_nobody_up(crm: Crm) -> None:
    healthy = await Listener().start()
    flaky = await Listener(behaviour=lambda n: 500 if n <= 12 else 200).start()  # 12 failures, then recovers
    dead = await Listener(hang=True).start()  # accepts the connection, never answers
    subs = []
    try:
        for lst in (healthy, flaky, dead):
            subs.append(await subscribe(crm, lst))
        manager = crm.manager("hubf")
        customer = await crm.customer(manager)
        orders = [await place_and_cancel(crm, manager, customer["id"]) for _ in range(3)]
        await healthy.wait_for(lambda lst: all(cancelled(lst, o) for o in orders), within_s=60)

        async def dead_still_pending() -> dict[str, Any]:
            r = await crm.http.get(f"{HUB}/{subs[2]['id']}/delivery", params={"limit": 200}, headers=ADMIN)
            mine = [d for d in r.json() if d["entityId"] in orders]
            return {"n": len(mine), "delivered": sum(d["status"] == "delivered" for d in mine)}

        # Everything reached the healthy listener while none of the dead one's rows was delivered.
        state = await dead_still_pending()
        assert state["delivered"] == 0 and dead.requests >= 1
        await flaky.wait_for(lambda lst: all(cancelled(lst, o) for o in orders), within_s=90)
        assert flaky.requests > len(flaky.accepted())  # it did answer 500s first
        for lst in (healthy, flaky):
            assert all(c.signature_ok for c in lst.received)
            for o in orders:
                assert_in_order(of_order(lst, o))

        async def retried() -> bool:
            r = await crm.http.get(f"{HUB}/{subs[2]['id']}/delivery", params={"limit": 200}, headers=ADMIN)
            return any(d["attempts"] >= 1 and d.get("lastError") for d in r.json())

        await eventually(retried, timeout_s=30, what="the dead listener's deliveries marked for retry")
    finally:
        for s in subs:
            await crm.http.delete(f"{HUB}/{s['id']}", headers=ADMIN)
        for lst in (healthy, flaky, dead):
            await lst.stop()


async def test_a_listener_answering_410_is_unsubscribed(crm: Crm) -> None:
    gone = await Listener(behaviour=lambda n: 410).start()
    try:
        sub = await subscribe(crm, gone)
        manager = crm.manager("hubg")
        customer = await crm.customer(manager)
        await place_and_cancel(crm, manager, customer["id"])

        async def unsubscribed() -> bool:
            r = await crm.http.get(f"{HUB}/{sub['id']}", headers=ADMIN)
            return bool(r.json().get("state") == "unsubscribed")

        await eventually(unsubscribed, timeout_s=30, what="the subscription ended by 410")
    finally:
        await gone.stop()


@pytest.mark.parametrize("callback", [
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.8/listener", "http://[fd00:ec2::254]/",
    "http://0.0.0.0:80/", "file:///etc/passwd", "http://192.168.1.10:8080/cb",
])
async def test_an_ssrf_callback_is_refused_with_422_naming_callback(crm: Crm, callback: str) -> None:
    r = await crm.http.post(HUB, json={"callback": callback}, headers=ADMIN)
    assert r.status_code == 422, r.text
    error = r.json()
    assert error["@type"] == "Error" and error["status"] == "422" and error["message"].startswith("callback")


async def test_bad_registrations_and_callers_are_refused(crm: Crm) -> None:
    r = await crm.http.post(HUB, json={"callback": "http://127.0.0.1:9/x", "query": "eventType=noSuchEvent"},
                            headers=ADMIN)
    assert r.status_code == 400 and "query" in r.json()["message"]  # TMF630: a bad request is a 400 Error
    r = await crm.http.post(HUB, json={"query": "eventType=productOrderCreateEvent"}, headers=ADMIN)
    assert r.status_code == 400 and "callback" in r.json()["message"]
    r = await crm.http.post(HUB, json={"callback": "http://127.0.0.1:9/x"},
                            headers=auth(crm.manager("x"), "account_manager"))
    assert r.status_code == 403
    r = await crm.http.post(HUB, json={"callback": "http://127.0.0.1:9/x"})
    assert r.status_code == 401
    r = await crm.http.get(f"{HUB}/hub_nosuch", headers=ADMIN)
    assert r.status_code == 404


async def test_a_tmf622_cancellation_request_reaches_the_listener_in_order(crm: Crm) -> None:
    listener = await Listener().start()
    try:
        sub = await subscribe(crm, listener)
        manager = crm.manager("hubc")
        customer = await crm.customer(manager)
        order = await crm.order(manager, customer["id"], submit=True)
        r = await crm.http.post("/tmf-api/productOrderingManagement/v4/cancelProductOrder",
                                json={"productOrder": {"id": order["id"]}, "cancellationReason": "budget cut"},
                                headers=auth(manager, "account_manager"))
        assert r.status_code == 201, r.text

        def types(lst: Listener) -> list[str]:
            first: dict[str, Callback] = {}
            for c in lst.accepted():
                resource = (c.json["event"].get("productOrder")
                            or (c.json["event"].get("cancelProductOrder") or {}).get("productOrder") or {})
                if resource.get("id") == order["id"]:
                    first.setdefault(c.event_id, c)
            return [c.json["eventType"] for c in first.values()]

        def order_states(lst: Listener) -> list[str]:
            first: dict[str, Callback] = {}
            for c in lst.accepted():
                if c.json["event"].get("productOrder", {}).get("id") == order["id"]:
                    first.setdefault(c.event_id, c)
            return [c.json["event"]["productOrder"]["state"] for c in first.values()]

        # The request's assessment goes on with the EOMS bridge (its tickets); the request itself is enough here.
        await listener.wait_for(lambda lst: "cancelProductOrderCreateEvent" in types(lst)
                                and "pendingCancellation" in order_states(lst), within_s=60)
        seen = types(listener)
        assert seen[0] == "productOrderCreateEvent", seen
        if "cancelProductOrderStateChangeEvent" in seen:
            assert seen.index("cancelProductOrderCreateEvent") < seen.index("cancelProductOrderStateChangeEvent")
        # The order as TMF622 tells it: assessingCancellation -> pendingCancellation (-> cancelled once done),
        # never cancelled before the request was accepted.
        states = order_states(listener)
        assert states[:3] == ["acknowledged", "assessingCancellation", "pendingCancellation"], states
        assert "cancelled" not in states[:3], states
        assert all(c.signature_ok for c in listener.received)
        for c in listener.accepted():
            if c.json["eventType"].startswith("cancelProductOrder"):
                definition = c.json["eventType"][0].upper() + c.json["eventType"][1:]
                schema = {"$ref": f"#/definitions/{definition}", "definitions": SPEC["definitions"]}
                assert not list(Draft4Validator(schema).iter_errors(c.json))
        await crm.http.delete(f"{HUB}/{sub['id']}", headers=ADMIN)
    finally:
        await listener.stop()
