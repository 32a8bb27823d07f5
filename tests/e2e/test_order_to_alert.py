"""The whole chain on real parts: REST order → CRM outbox → Kafka → EOMS ticket → SLA timer →
breach → notify → an e-mail received by a real SMTP server."""

from __future__ import annotations

import httpx
import pytest

from backbone.topics import CRM_ORDERS, EOMS_TICKETS, SLA_ALERTS
from tests.support.kafka_tools import eventually, read_events

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_an_order_becomes_a_ticket_whose_sla_breach_is_mailed(suite):
    headers = {**suite.auth("am_zhang", "account_manager"), "X-Correlation-ID": "e2e-chain-1"}
    async with httpx.AsyncClient(base_url=suite.url("crm"), timeout=10) as http:
        r = await http.post("/api/v1/orders", headers=headers, json={
            "customer_id": "cus_tj_port", "channel": "account_manager", "submit": True,
            "items": [{"product": "dedicated_line_data", "business_kind": "opening",
                       "attributes": {"bandwidth_mbps": 100, "a_end_address": "天津港", "z_end_address": "机房"}}],
        })
        assert r.status_code == 201, r.text
        assert r.headers["x-correlation-id"] == "e2e-chain-1"
        order_id = r.json()["id"]

    bootstrap = suite.infra.kafka_bootstrap
    submitted = await eventually(lambda: read_events(bootstrap, CRM_ORDERS, subject=order_id), what="order event")
    assert submitted[0].type == "crm.order.submitted"
    assert submitted[0].correlation_id == "e2e-chain-1"

    async def ticket_created():
        return [e for e in await read_events(bootstrap, EOMS_TICKETS, types={"eoms.ticket.created"})
                if e.data["origin_id"] == order_id]

    created = await eventually(ticket_created, what="eoms.ticket.created")
    ticket_id = created[0].subject
    assert created[0].correlation_id == "e2e-chain-1", "the correlation id travels with the chain"

    async def breached():
        return [e for e in await read_events(bootstrap, SLA_ALERTS, subject=ticket_id, types={"sla.breached"})]

    await eventually(breached, timeout_s=30, what="sla.breached")

    def mails():
        return [m for m in suite.smtp.handler.messages if ticket_id in m.subject + m.text]

    async def mail_arrived():
        return mails()

    # Under a burst of alerts to the same manager the storm policy may fold ours into a digest,
    # which names the ticket too.
    await eventually(mail_arrived, timeout_s=60, what="the breach e-mail (or digest) at the SMTP server")
    async with httpx.AsyncClient(base_url=suite.url("crm"), timeout=10) as http:
        order = (await http.get(f"/api/v1/orders/{order_id}", headers=headers)).json()
    assert order["status"] == "in_progress"
    assert any(t["ticket_id"] == ticket_id for t in order["tickets"])


async def test_bad_order_input_is_a_problem_naming_the_field_and_writes_nothing(suite):
    headers = suite.auth("am_zhang", "account_manager")
    bootstrap = suite.infra.kafka_bootstrap
    before = len(await read_events(bootstrap, CRM_ORDERS))
    async with httpx.AsyncClient(base_url=suite.url("crm"), timeout=10) as http:
        r = await http.post("/api/v1/orders", headers=headers, json={
            "customer_id": "cus_tj_port", "items": [{"product": "teleport", "business_kind": "opening"}],
            "submit": True,
        })
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["status"] == 422 and body["errors"][0]["field"].startswith("items.0.product")

        r = await http.post("/api/v1/orders", headers=headers, content=b"{broken", )
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"

        r = await http.post("/api/v1/orders", json={"customer_id": "x", "items": []})
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert len(await read_events(bootstrap, CRM_ORDERS)) == before, "a rejected request emits nothing"
