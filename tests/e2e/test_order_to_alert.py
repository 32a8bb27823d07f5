"""The whole chain on real parts: REST order → CRM outbox → Kafka → EOMS ticket → SLA timer →
breach → notify → an e-mail received by a real SMTP server (and SMS by the SMSC); the same for a
complaint naming no product (the generic complaint workflow). No message a person receives shows a
raw code."""

from __future__ import annotations

import httpx
import pytest

from backbone.topics import CRM_COMPLAINTS, CRM_ORDERS, EOMS_TICKETS, SLA_ALERTS, dlq
from backbone.vocabulary import GENERIC_COMPLAINT
from tests.support.kafka_tools import eventually, read_events
from tests.support.raw_codes import raw_codes

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
    # The CRM learns of the ticket from eoms.tickets on its own consumer, which may still be working through
    # older records of a reused infrastructure: the order moves on when it gets there.
    async with httpx.AsyncClient(base_url=suite.url("crm"), timeout=10) as http:

        async def order_in_progress():
            order = (await http.get(f"/api/v1/orders/{order_id}", headers=headers)).json()
            return order if order["status"] == "in_progress" else None

        order = await eventually(order_in_progress, timeout_s=60, what="the order in_progress")
    assert any(t["ticket_id"] == ticket_id for t in order["tickets"])
    await assert_no_raw_code_reached_anyone(suite, ticket_id)


async def assert_no_raw_code_reached_anyone(suite, ticket_id: str) -> None:
    """What notify rendered for the ticket (every SMS and e-mail delivery row, sent or held back by the storm
    policy) and what reached the SMSC for it (an SMS naming it, or a digest) reads without a raw code.

    Only this run's messages: a long-reused test infrastructure may still hold rows rendered by older code."""
    async with httpx.AsyncClient(base_url=suite.url("notify"), timeout=10) as http:

        async def rendered():
            r = await http.get("/api/v1/deliveries", params={"ticket_id": ticket_id, "limit": 200},
                               headers=suite.auth("admin_e2e", "admin"))
            items = r.json()["items"] if r.status_code == 200 else []
            return items if any(d["channel"] == "sms" for d in items) else None

        for d in await eventually(rendered, timeout_s=60, what=f"notify's SMS deliveries of {ticket_id}"):
            for text in (d["subject"] or "", d["body"]):
                assert raw_codes(text) == [], (d["channel"], d["status"], text)

    def received() -> list[str]:
        digest = ("【工单提醒汇总】", "[SLA digest]")
        return [m.text for m in suite.smsc.messages if ticket_id in m.text or m.text.startswith(digest)]

    async def some_received():
        return received()

    await eventually(some_received, timeout_s=60, what=f"an SMS at the SMSC naming {ticket_id} (or a digest)")
    for text in received():
        assert raw_codes(text) == [], text


async def test_a_complaint_naming_no_product_reaches_a_ticket_a_timer_and_an_alert(suite):
    headers = {**suite.auth("am_zhang", "account_manager"), "X-Correlation-ID": "e2e-complaint-1"}
    async with httpx.AsyncClient(base_url=suite.url("crm"), timeout=10) as http:
        r = await http.post("/api/v1/complaints", headers=headers, json={
            "customer_id": "cus_tj_port", "category": "fault", "severity": "high",
            "description": "集团客户反映业务中断，未说明是哪项产品"})
        assert r.status_code == 201, r.text
        complaint_id = r.json()["id"]

    bootstrap = suite.infra.kafka_bootstrap

    async def ticket_created():
        return [e for e in await read_events(bootstrap, EOMS_TICKETS, types={"eoms.ticket.created"})
                if e.data["origin_id"] == complaint_id]

    (created,) = await eventually(ticket_created, what="the complaint's ticket")
    ticket_id = created.subject
    assert (created.data["business_type"], created.data["ticket_kind"], created.data["node"], created.data["role"]) \
        == (GENERIC_COMPLAINT, "complaint_fault", "complaint_registration", "complaint_desk")
    assert await read_events(bootstrap, dlq(CRM_COMPLAINTS), subject=complaint_id) == []

    async def timer():
        async with httpx.AsyncClient(base_url=suite.url("sla"), timeout=10) as http:
            r = await http.get("/api/v1/timers", params={"ticket_id": ticket_id},
                               headers=suite.auth("sup_e2e", "supervisor"))
            return r.json()["items"] if r.status_code == 200 else None

    (t, *_) = await eventually(timer, what="the SLA timer of the complaint's first node")
    assert (t["node"], t["business_type"], t["customer_tier"]) == ("complaint_registration", GENERIC_COMPLAINT, "A")

    async def breached():
        return await read_events(bootstrap, SLA_ALERTS, subject=ticket_id, types={"sla.breached"})

    await eventually(breached, timeout_s=30, what="sla.breached of the complaint's ticket")

    def messages() -> list[str]:
        sms = [m.text for m in suite.smsc.messages if ticket_id in m.text]
        mails = [m.subject + "\n" + m.text for m in suite.smtp.handler.messages if ticket_id in m.subject + m.text]
        return sms + mails

    async def alerted():
        return messages()

    # An SMS or e-mail naming the ticket (a digest under a burst of alerts names it too).
    await eventually(alerted, timeout_s=60, what="an alert naming the complaint's ticket (SMS or e-mail)")
    assert any("投诉工单生成" in text for text in messages()), messages()  # the node's label, not its code
    async with httpx.AsyncClient(base_url=suite.url("crm"), timeout=10) as http:
        complaint = (await http.get(f"/api/v1/complaints/{complaint_id}", headers=headers)).json()
    assert complaint["status"] == "dispatched"
    assert [t["ticket_id"] for t in complaint["tickets"]] == [ticket_id]
    await assert_no_raw_code_reached_anyone(suite, ticket_id)


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
