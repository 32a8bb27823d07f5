"""Status fed back from real `eoms.tickets` and `sla.alerts` events on Kafka: orders opened or
rejected, complaints resolved, the ticket trail, and the account manager's workbench; TMF views."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from crm_testkit import DATA_LINE, assert_tmf_error, auth, events_of, payload_matches

from backbone.envelope import Envelope
from backbone.events import (
    SlaBreached,
    SlaEscalated,
    SlaMet,
    SlaWarning,
    TicketContext,
    TicketCreated,
    TicketNodeEntered,
    TicketResolved,
)
from backbone.ids import new_id
from backbone.kafka import Producer
from backbone.topics import CRM_COMPLAINTS, CRM_ORDERS, EOMS_TICKETS, SLA_ALERTS
from tests.support.kafka_tools import eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def kafka(crm) -> AsyncIterator[Producer]:
    producer = Producer(crm.infra.kafka_bootstrap, client_id="crm-test-eoms")
    await producer.start()
    yield producer
    await producer.stop()


def ctx(kind: str, origin: str, origin_id: str, customer: dict[str, Any], business_type: str) -> dict[str, Any]:
    return TicketContext(
        ticket_id=new_id("tkt"), ticket_kind=kind, business_type=business_type, origin=origin,
        origin_id=origin_id, customer_id=customer["id"], customer_name=customer["name"],
        customer_tier=customer["tier"], account_manager_id=customer["account_manager_id"],
        workflow_id=business_type, workflow_version=1,
    ).model_dump()


async def publish(kafka: Producer, topic: str, payload: Any, subject: str, source: str = "eoms-bridge",
                  times: int = 1) -> None:
    raw = Envelope.wrap(payload, source=source, subject=subject).to_bytes()
    for _ in range(times):  # the same envelope again is a redelivery
        await kafka.send_and_wait(topic, raw, key=subject.encode())


async def order_in(crm, order_id: str, manager: str, status: str) -> dict[str, Any] | None:
    r = await crm.http.get(f"/api/v1/orders/{order_id}", headers=auth(manager, "account_manager"))
    return r.json() if r.json()["status"] == status else None


async def test_an_order_is_opened_when_its_service_opening_ticket_resolves(crm, am, kafka):
    c = await crm.customer(am)
    order = await crm.order(am, c["id"], submit=True)
    now = datetime.now(UTC)
    t = ctx("service_opening", "order", order["id"], c, "dedicated_line_data.opening")
    await publish(kafka, EOMS_TICKETS, TicketCreated(**t, state="acknowledged", node="data_production",
                                                     role="network_data", created_at=now), t["ticket_id"])
    await publish(kafka, EOMS_TICKETS, TicketNodeEntered(**t, node="service_test", role="field_engineer",
                                                         entered_at=now + timedelta(seconds=1)), t["ticket_id"])
    resolved = TicketResolved(**t, resolution="resolved", resolved_at=now + timedelta(seconds=2))
    await publish(kafka, EOMS_TICKETS, resolved, t["ticket_id"], times=2)  # redelivered: no second effect
    opened = await eventually(lambda: order_in(crm, order["id"], am, "opened"), timeout_s=30, what="order opened")
    # (if a suite's EOMS bridge runs too, the order also has the bridge's real tickets)
    [ticket] = [x for x in opened["tickets"] if x["ticket_id"] == t["ticket_id"]]
    assert (ticket["ticket_id"], ticket["state"], ticket["node"]) == (t["ticket_id"], "resolved", None)
    assert [e["event"] for e in ticket["trail"]] == [
        "eoms.ticket.created", "eoms.ticket.node_entered", "eoms.ticket.resolved"]
    assert [(h["from"], h["to"]) for h in opened["history"]][-2:] == [("submitted", "in_progress"),
                                                                      ("in_progress", "opened")]

    async def changes():
        found = await events_of(crm.infra.kafka_bootstrap, CRM_ORDERS, order["id"], {"crm.order.status_changed"})
        return found if any(e.data["to_status"] == "opened" for e in found) else None

    steps = [payload_matches(e) for e in await eventually(changes, what="status_changed → opened")]
    assert [(s.from_status, s.to_status) for s in steps] == [
        ("draft", "submitted"), ("submitted", "in_progress"), ("in_progress", "opened")]
    # the order can be closed now, by its account manager
    r = await crm.http.post(f"/api/v1/orders/{order['id']}/close", headers=auth(am, "account_manager"))
    assert r.status_code == 200 and r.json()["status"] == "closed"
    tmf = (await crm.http.get(f"/tmf-api/productOrderingManagement/v4/productOrder/{order['id']}",
                              headers=auth("ns", "network_staff"))).json()
    assert tmf["state"] == "completed"


async def test_a_rejected_ticket_rejects_the_order_with_the_reason(crm, am, kafka):
    c = await crm.customer(am)
    order = await crm.order(am, c["id"], submit=True)
    t = ctx("resource_confirmation", "order", order["id"], c, "dedicated_line_data.opening")
    now = datetime.now(UTC)
    await publish(kafka, EOMS_TICKETS, TicketCreated(**t, state="acknowledged", node="resource_check",
                                                     role="network_resource", created_at=now), t["ticket_id"])
    await publish(kafka, EOMS_TICKETS, TicketResolved(**t, resolution="rejected", reason="传输端口不足",
                                                      resolved_at=now + timedelta(seconds=1)), t["ticket_id"])
    rejected = await eventually(lambda: order_in(crm, order["id"], am, "rejected"), timeout_s=30,
                                what="order rejected")
    assert "传输端口不足" in rejected["status_reason"] and t["ticket_id"] in rejected["status_reason"]
    assert [x["reason"] for x in rejected["tickets"] if x["ticket_id"] == t["ticket_id"]] == ["传输端口不足"]
    tmf = (await crm.http.get(f"/tmf-api/productOrderingManagement/v4/productOrder/{order['id']}",
                              headers=auth(am, "account_manager"))).json()
    assert tmf["state"] == "rejected"


async def test_a_complaint_is_dispatched_then_resolved_by_its_fault_ticket(crm, am, kafka):
    c = await crm.customer(am)
    complaint = await crm.complaint(am, c["id"])
    t = ctx("complaint_fault", "complaint", complaint["id"], c, "dedicated_line_data.complaint")
    now = datetime.now(UTC)
    await publish(kafka, EOMS_TICKETS, TicketCreated(**t, state="acknowledged", node="fault_diagnosis",
                                                     role="network_staff", created_at=now), t["ticket_id"])
    done = TicketResolved(**t, resolution="resolved", resolved_at=now + timedelta(seconds=1))
    await publish(kafka, EOMS_TICKETS, done, t["ticket_id"])
    me = auth(am, "account_manager")

    async def resolved():
        r = await crm.http.get(f"/api/v1/complaints/{complaint['id']}", headers=me)
        return r.json() if r.json()["status"] == "resolved" else None

    done = await eventually(resolved, timeout_s=30, what="complaint resolved")
    assert any(x["ticket_id"] == t["ticket_id"] for x in done["tickets"])
    r = await crm.http.post(f"/api/v1/complaints/{complaint['id']}/revisit", headers=me,
                            json={"satisfaction": 4, "note": "客户满意"})
    assert r.status_code == 200 and r.json()["satisfaction"] == 4
    assert (await crm.http.post(f"/api/v1/complaints/{complaint['id']}/archive", headers=me)).status_code == 200

    async def changes():
        found = await events_of(crm.infra.kafka_bootstrap, CRM_COMPLAINTS, complaint["id"],
                                {"crm.complaint.status_changed"})
        return found if any(e.data["to_status"] == "archived" for e in found) else None

    steps = [payload_matches(e) for e in await eventually(changes, what="complaint status events")]
    assert [(s.from_status, s.to_status, s.satisfaction) for s in steps] == [
        ("created", "dispatched", None), ("dispatched", "resolved", None), ("resolved", "revisited", 4),
        ("revisited", "archived", None)]
    tt = (await crm.http.get(f"/tmf-api/troubleTicket/v4/troubleTicket/{complaint['id']}", headers=me)).json()
    assert tt["status"] == "closed" and tt["severity"] == "high" and tt["ticketType"] == "fault"
    assert {"id": c["id"], "role": "customer", "@referredType": "Organization"} in tt["relatedParty"]
    assert {e["role"] for e in tt["relatedEntity"]} == {"affectedProduct", "affectedService", "complaint_fault"}
    assert [s["status"] for s in tt["statusChange"]] == ["acknowledged", "inProgress", "resolved", "resolved",
                                                          "closed"]


def alert_ctx(t: dict[str, Any], node: str, deadline: datetime) -> dict[str, Any]:
    return {"timer_id": f"{t['ticket_id']}:{node}", "ticket_id": t["ticket_id"], "ticket_kind": t["ticket_kind"],
            "business_type": t["business_type"], "node": node, "role": "network_staff",
            "customer_id": t["customer_id"], "customer_name": t["customer_name"],
            "customer_tier": t["customer_tier"], "account_manager_id": t["account_manager_id"],
            "deadline": deadline, "policy_version": "test"}


async def test_workbench_puts_orders_at_sla_risk_first(crm, am, kafka):
    c = await crm.customer(am)
    # Drafts and a complaint without a product: no real EOMS ticket (nor real SLA alert) comes for
    # them even when a suite's bridge and SLA service run; the tickets and alerts here are ours.
    calm, warned, breached = [await crm.order(am, c["id"]) for _ in range(3)]
    complaint = await crm.complaint(am, c["id"], product=None)
    now = datetime.now(UTC)
    tickets = {}
    for o in (calm, warned, breached):
        t = ctx("resource_confirmation", "order", o["id"], c, "dedicated_line_data.opening")
        tickets[o["id"]] = t
        await publish(kafka, EOMS_TICKETS, TicketCreated(**t, state="acknowledged", node="resource_check",
                                                         role="network_staff", created_at=now), t["ticket_id"])
    ct = ctx("complaint_fault", "complaint", complaint["id"], c, "dedicated_line_data.complaint")
    await publish(kafka, EOMS_TICKETS, TicketCreated(**ct, state="acknowledged", node="fault_diagnosis",
                                                     role="network_staff", created_at=now), ct["ticket_id"])
    tw, tb = tickets[warned["id"]], tickets[breached["id"]]
    await publish(kafka, SLA_ALERTS, SlaWarning(**alert_ctx(tw, "resource_check", now + timedelta(minutes=5)),
                                                warning_point="50%", remaining_seconds=300), tw["ticket_id"], "sla")
    await publish(kafka, SLA_ALERTS, SlaBreached(**alert_ctx(tb, "resource_check", now - timedelta(minutes=1)),
                                                 lateness_seconds=60), tb["ticket_id"], "sla")
    await publish(kafka, SLA_ALERTS, SlaEscalated(**alert_ctx(ct, "fault_diagnosis", now - timedelta(minutes=2)),
                                                  level=1, escalate_to_role="supervisor", lateness_seconds=120),
                  ct["ticket_id"], "sla")
    me = auth(am, "account_manager")

    async def risks(expected: dict[str, str | None]):
        wb = (await crm.http.get("/api/v1/me/workbench", headers=me)).json()
        got = {w["order"]["id"]: w["risk"]["level"] for w in wb["orders"]}
        got.update({w["complaint"]["id"]: w["risk"]["level"] for w in wb["complaints"]})
        return wb if all(got.get(k) == v for k, v in expected.items()) else None

    wb = await eventually(lambda: risks({breached["id"]: "breached", warned["id"]: "warning",
                                         complaint["id"]: "escalated"}), timeout_s=30, what="SLA risks")
    assert wb["account_manager_id"] == am and wb["at_risk"] == 3
    assert [w["order"]["id"] for w in wb["orders"]] == [breached["id"], warned["id"], calm["id"]]
    assert [w["risk"]["level"] for w in wb["orders"]] == ["breached", "warning", None]
    assert wb["orders"][0]["risk"]["ticket_id"] == tb["ticket_id"]
    assert wb["complaints"][0]["risk"]["sla"]["escalation_level"] == 1
    # the node was done in the end: its risk is cleared
    await publish(kafka, SLA_ALERTS, SlaMet(**alert_ctx(tb, "resource_check", now), elapsed_seconds=400, late=True),
                  tb["ticket_id"], "sla")
    wb = await eventually(lambda: risks({breached["id"]: None}), timeout_s=30, what="breach cleared by sla.met")
    assert wb["orders"][0]["order"]["id"] == warned["id"] and wb["at_risk"] == 2
    other = (await crm.http.get("/api/v1/me/workbench", headers=auth("am_other", "account_manager"))).json()
    assert all(w["order"]["customer_id"] != c["id"] for w in other["orders"])
    sup = (await crm.http.get("/api/v1/me/workbench", params={"manager": am},
                              headers=auth("sup", "supervisor"))).json()
    assert {w["order"]["id"] for w in sup["orders"]} == {calm["id"], warned["id"], breached["id"]}


async def test_tmf622_product_order_create_and_read(crm, am):
    c = await crm.customer(am)
    me = auth(am, "account_manager")
    body = {
        "description": "港区专线", "channel": [{"name": "agent"}],
        "relatedParty": [{"id": c["id"], "role": "customer", "@referredType": "Organization"}],
        "productOrderItem": [{"id": "1", "action": "add", "product": {
            "productSpecification": {"id": "dedicated_line_data"},
            "productCharacteristic": [{"name": k, "value": v} for k, v in DATA_LINE["attributes"].items()]}}],
    }
    r = await crm.http.post("/tmf-api/productOrderingManagement/v4/productOrder", json=body, headers=me)
    assert r.status_code == 201, r.text
    po = r.json()
    assert po["state"] == "acknowledged" and po["@type"] == "ProductOrder"
    assert po["href"] == f"/tmf-api/productOrderingManagement/v4/productOrder/{po['id']}"
    assert po["relatedParty"][0] == {"id": c["id"], "role": "customer", "@referredType": "Organization"}
    item = po["productOrderItem"][0]
    assert item["action"] == "add" and item["product"]["productSpecification"]["id"] == "dedicated_line_data"
    assert {x["name"]: x["value"] for x in item["product"]["productCharacteristic"]} == DATA_LINE["attributes"]
    native = (await crm.http.get(f"/api/v1/orders/{po['id']}", headers=me)).json()
    assert native["status"] == "submitted" and native["channel"] == "agent"
    got = await crm.http.get(f"/tmf-api/productOrderingManagement/v4/productOrder/{po['id']}", headers=me)
    assert got.json()["id"] == po["id"]
    listed = await crm.http.get("/tmf-api/productOrderingManagement/v4/productOrder", headers=me,
                                params={"limit": 5})
    assert po["id"] in [x["id"] for x in listed.json()] and int(listed.headers["x-total-count"]) >= 1
    bad = {**body, "productOrderItem": [{"action": "modify", "product": {
        "productSpecification": {"id": "dedicated_line_data"},
        "productCharacteristic": [{"name": "bandwidth_mbps", "value": 7}]}}]}
    # errors on a TM Forum face are TMF630 Error bodies, 400, the message naming the field (backbone.tmf)
    error = assert_tmf_error(await crm.http.post("/tmf-api/productOrderingManagement/v4/productOrder", json=bad,
                                                 headers=me), 400,
                             "productOrderItem.0.product.productCharacteristic.bandwidth_mbps")
    assert error["code"] == "invalid_order_items"
    no_customer = {**body, "relatedParty": [{"id": "x", "role": "partner", "@referredType": "Organization"}]}
    assert_tmf_error(await crm.http.post("/tmf-api/productOrderingManagement/v4/productOrder", json=no_customer,
                                         headers=me), 400, "relatedParty")
    unknown = {**body, "productOrderItem": [{"id": "1", "action": "add",
                                             "product": {"productSpecification": {"id": "x"}}}]}
    assert_tmf_error(await crm.http.post("/tmf-api/productOrderingManagement/v4/productOrder", json=unknown,
                                         headers=me), 400, "productOrderItem.0.product.productSpecification.id")
