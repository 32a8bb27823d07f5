"""The EOMS bridge's TMF621 hub on real parts: a bridge process, real Kafka and PostgreSQL, a real listener.

An order produced to crm.orders (as the CRM would) opens tickets; a listener subscribed on
/tmf-api/troubleTicket/v4/hub receives each ticket's troubleTicketCreateEvent first, then its other
events, signed; a callback to the metadata address is refused with 422.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from backbone.auth import issue_token
from backbone.envelope import Envelope
from backbone.events import OrderItem, OrderSubmitted
from backbone.ids import new_id
from backbone.kafka import Producer
from backbone.settings import DEV_JWT_SECRET
from backbone.topics import CRM_ORDERS
from devtools.infra import free_port, test_profile
from devtools.suite import ServiceProcess, spec
from tests.support.hub_listener import Listener
from tests.support.kafka_tools import eventually

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.infra]

HUB = "/tmf-api/troubleTicket/v4/hub"
ADMIN = {"Authorization": f"Bearer {issue_token('integration-oss', ['admin'], secret=DEV_JWT_SECRET)}"}


@pytest.fixture(scope="module")
def bridge(infra: Any) -> Iterator[str]:
    logs = test_profile().data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**infra.env(), "ENVIRONMENT": "test", "CONSUMER_GROUP": "eoms-hub-it", "CONSUMER_BACKOFF_INITIAL_S": "0.05",
           "HUB_POLL_S": "0.05"}
    proc = ServiceProcess(spec("eoms-bridge"), env, free_port(), logs / "eoms-bridge-hub-it.log").start()
    try:
        yield proc.url
    finally:
        proc.stop()


async def test_tickets_of_an_order_reach_a_subscriber_created_first_and_signed(bridge: str, infra: Any) -> None:
    listener = await Listener().start()
    try:
        async with httpx.AsyncClient(base_url=bridge, timeout=20) as http:
            r = await http.post(HUB, json={"callback": "http://169.254.169.254/latest/"}, headers=ADMIN)
            assert r.status_code == 422 and r.json()["message"].startswith("callback"), r.text
            r = await http.post(HUB, json={"callback": listener.url}, headers=ADMIN)
            assert r.status_code == 201, r.text
            listener.secret = r.json()["secret"]
            sub_id = r.json()["id"]

            order_id = new_id("ord")
            submitted = OrderSubmitted(
                order_id=order_id, channel="account_manager", submitted_at=datetime.now(UTC), customer_id="cus_hub_it",
                customer_name="天津港集团", customer_tier="A", account_manager_id="am_hub_it",
                items=[OrderItem(item_id=new_id("itm"), product="dedicated_line_data", business_kind="opening",
                                 business_type="dedicated_line_data.opening", attributes={"bandwidth_mbps": 100})])
            envelope = Envelope.wrap(submitted, source="crm", subject=order_id, correlation_id=str(uuid.uuid4()))
            producer = Producer(infra.kafka_bootstrap, client_id="eoms-hub-it")
            await producer.start()
            try:
                await producer.send_and_wait(CRM_ORDERS, envelope.to_bytes(), key=order_id.encode())
            finally:
                await producer.stop()

            def of_order(lst: Listener) -> list[Any]:
                return [c for c in lst.accepted()
                        if c.json["event"]["troubleTicket"]["relatedEntity"][0]["id"] == order_id]

            await listener.wait_for(
                lambda lst: any(c.json["eventType"] == "troubleTicketCreateEvent" for c in of_order(lst))
                and any(c.json["eventType"] == "troubleTicketAttributeValueChangeEvent" for c in of_order(lst)),
                within_s=90)
            calls = of_order(listener)
            assert all(c.signature_ok for c in listener.received)
            tickets: dict[str, list[str]] = {}
            for c in calls:
                tickets.setdefault(c.json["event"]["troubleTicket"]["id"], []).append(c.json["eventType"])
            for types in tickets.values():
                assert types[0] == "troubleTicketCreateEvent", types
            created = next(c for c in calls if c.json["eventType"] == "troubleTicketCreateEvent")
            assert created.json["correlationId"] == envelope.correlation_id
            assert created.json["event"]["troubleTicket"]["status"] == "acknowledged"

            # the worker records "delivered" after the listener's answer reaches it: it may lag the callback
            async def recorded() -> bool:
                r = await http.get(f"{HUB}/{sub_id}/delivery", params={"status": "delivered"}, headers=ADMIN)
                assert r.status_code == 200, r.text
                return int(r.headers["X-Total-Count"]) >= len(calls)

            await eventually(recorded, what="every callback's delivery recorded as delivered")
            r = await http.delete(f"{HUB}/{sub_id}", headers=ADMIN)
            assert r.status_code == 204
    finally:
        await listener.stop()
        await asyncio.sleep(0)
