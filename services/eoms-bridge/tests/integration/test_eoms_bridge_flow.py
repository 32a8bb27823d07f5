"""The EOMS bridge on real parts: a bridge process (own consumer group) on real Kafka + PostgreSQL.

Orders are produced to crm.orders as the CRM would; tickets are walked through REST node actions;
the `eoms.ticket.*` events are read back from Kafka.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from backbone.auth import issue_token
from backbone.envelope import Envelope
from backbone.events import ComplaintCreated, OrderCancelled, OrderItem, OrderSubmitted
from backbone.ids import new_id
from backbone.kafka import Producer
from backbone.settings import DEV_JWT_SECRET
from backbone.topics import CRM_COMPLAINTS, CRM_ORDERS, EOMS_TICKETS, dlq
from backbone.vocabulary import GENERIC_COMPLAINT
from devtools.infra import free_port, test_profile
from devtools.suite import ServiceProcess, spec
from tests.support.kafka_tools import eventually, read_events

pytestmark = pytest.mark.asyncio(loop_scope="session")

GROUP = "eoms-bridge-it"  # stable: a fresh group would re-read all of crm.orders
AM = "am_eoms_it"


def auth(subject: str, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(subject, list(roles), secret=DEV_JWT_SECRET)}"}


NS_A, NS_B = auth("ns_li", "network_staff"), auth("ns_zhao", "network_staff")
SUP = auth("sup_wang", "supervisor")
AMH = auth(AM, "account_manager")
ADMIN = auth("admin_it", "admin")


@pytest.fixture(scope="module")
def bridge(infra: Any) -> Iterator[str]:
    logs = test_profile().data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**infra.env(), "ENVIRONMENT": "test", "CONSUMER_GROUP": GROUP, "CONSUMER_BACKOFF_INITIAL_S": "0.05"}
    proc = ServiceProcess(spec("eoms-bridge"), env, free_port(), logs / "eoms-bridge-it.log").start()
    try:
        yield proc.url
    finally:
        proc.stop()


def order(business_type: str = "dedicated_line_data.opening", *, order_id: str | None = None,
          items: int = 1) -> OrderSubmitted:
    product, _, kind = business_type.partition(".")
    return OrderSubmitted(
        order_id=order_id or new_id("ord"), channel="account_manager", submitted_at=datetime.now(UTC),
        customer_id="cus_eoms_it", customer_name="天津港集团", customer_tier="A", account_manager_id=AM,
        items=[OrderItem(item_id=new_id("itm"), product=product, business_kind=kind,  # type: ignore[arg-type]
                         business_type=business_type, attributes={"bandwidth_mbps": 100}) for _ in range(items)],
    )


async def produce(infra: Any, topic: str, *envelopes: Envelope) -> None:
    producer = Producer(infra.kafka_bootstrap, client_id="eoms-it")
    await producer.start()
    try:
        for e in envelopes:
            await producer.send_and_wait(topic, e.to_bytes(), key=e.subject.encode())
    finally:
        await producer.stop()


def wrap(payload: Any, subject: str) -> Envelope:
    return Envelope.wrap(payload, source="crm", subject=subject)


async def tickets_of(http: httpx.AsyncClient, origin_id: str, n: int = 1) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]] | None:
        r = await http.get("/api/v1/tickets", params={"origin_id": origin_id}, headers=SUP)
        items = r.json()["items"]
        return items if len(items) >= n else None

    return await eventually(check, timeout_s=20, what=f"{n} ticket(s) of {origin_id}")  # type: ignore[no-any-return]


async def action(http: httpx.AsyncClient, tid: str, name: str, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await http.post(f"/api/v1/tickets/{tid}/actions/{name}", headers=headers, json=body)


def who(role: str, subject: str | None = None) -> dict[str, str]:
    """A token working `role` (each node role held as such: no role covers another); a partner's node is
    worked by a supervisor's override."""
    if role in ("supervisor", "partner_si"):
        return SUP
    if role == "account_manager":
        return AMH
    return auth(subject or "ns_li", "network_staff", role)


async def work(http: httpx.AsyncClient, tid: str, outcome: str, **extra: Any) -> dict[str, Any]:
    t = (await http.get(f"/api/v1/tickets/{tid}", headers=SUP)).json()
    h = who(t["current_role"], t["assignee"])  # a dispatched node is worked by its assignee
    if t["assignee"] is None or t["state"] == "acknowledged":
        r = await action(http, tid, "accept", h)
        assert r.status_code == 200, r.text
    r = await action(http, tid, "complete", h, outcome=outcome, **extra)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_full_dedicated_line_opening_walks_every_node_with_events_on_kafka(infra: Any, bridge: str) -> None:
    o = order()
    await produce(infra, CRM_ORDERS, wrap(o, o.order_id))
    async with httpx.AsyncClient(base_url=bridge, timeout=10) as http:
        (conf,) = await tickets_of(http, o.order_id)
        assert (conf["kind"], conf["current_node"], conf["state"]) == (
            "resource_confirmation", "order_acceptance_check", "acknowledged")
        tid = conf["id"]
        # Suspend / resume at the first node (SLA pause), then through the survey branch.
        assert (await action(http, tid, "accept", NS_A)).status_code == 200
        r = await action(http, tid, "suspend", NS_A, reason="waiting for the customer's site contact")
        assert r.json()["state"] == "pending"
        assert (await action(http, tid, "resume", NS_A)).json()["state"] == "in_progress"
        await work(http, tid, "accepted")
        await work(http, tid, "needs_site_survey")
        await work(http, tid, "feasible")
        await work(http, tid, "designed")
        # The reviewer sends it back to the design node, which is redone.
        assert (await action(http, tid, "accept", SUP)).status_code == 200
        r = await action(http, tid, "return", SUP, reason="design lacks a protection path")
        assert r.status_code == 200 and r.json()["current_node"] == "transmission_design", r.text
        await work(http, tid, "designed")
        done = await work(http, tid, "approved")
        assert done["state"] == "resolved" and done["current_node"] is None

        # Resolution unblocks the reservation ticket, and that one the opening ticket.
        res = next(t for t in await tickets_of(http, o.order_id, 2) if t["kind"] == "resource_preoccupation")
        assert res["workflow_version"] == conf["workflow_version"]
        for outcome in ("reserved", "reserved", "confirmed"):
            await work(http, res["id"], outcome)
        opening = next(t for t in await tickets_of(http, o.order_id, 3) if t["kind"] == "service_opening")
        oid = opening["id"]
        for outcome in ("scheduled", "construction_blocked", "unblocked", "built", "installed", "done", "passed",
                        "activated", "trial_ok", "confirmed", "satisfied"):
            last = await work(http, oid, outcome)
        assert last["state"] == "resolved"
        full = (await http.get(f"/api/v1/tickets/{oid}", headers=AMH)).json()
        walked = [v["node"] for v in full["nodes"]]
        assert walked[:3] == ["circuit_scheduling", "line_construction", "construction_coordination"]
        assert all(v["assignee"] and v["left_at"] and v["outcome"] for v in full["nodes"])
        tmf = (await http.get(f"/tmf-api/troubleTicket/v4/troubleTicket/{tid}", headers=SUP)).json()
        assert tmf["status"] == "resolved" and tmf["ticketType"] == "resource_confirmation"
        assert [c["status"] for c in tmf["statusChange"]] == [
            "acknowledged", "inProgress", "pending", "inProgress", "resolved"]
        assert {e["id"] for e in tmf["relatedEntity"]} == {o.order_id, "cus_eoms_it"}
        assert tmf["href"].endswith(f"/troubleTicket/{tid}")

    ids = {tid, res["id"], oid}

    async def all_events() -> list[Envelope] | None:
        evs = [e for e in await read_events(infra.kafka_bootstrap, EOMS_TICKETS) if e.subject in ids]
        return evs if sum(e.type == "eoms.ticket.resolved" for e in evs) == 3 else None

    evs = await eventually(all_events, timeout_s=20, what="three eoms.ticket.resolved events")
    created = [e for e in evs if e.type == "eoms.ticket.created"]
    assert len(created) == 3 and all(e.data["origin_id"] == o.order_id for e in created)
    entered = [e for e in evs if e.type == "eoms.ticket.node_entered"]
    assert len(entered) == 7 + 3 + 11  # confirmation (with the return), reservation, opening (with the detour)
    for e in entered:
        d = e.data
        assert d["business_type"] == "dedicated_line_data.opening" and d["customer_tier"] == "A"
        assert d["role"] and d["node"] and d["account_manager_id"] == AM and d["customer_name"] == "天津港集团"
    assigned = [e for e in evs if e.type == "eoms.ticket.node_assigned"]
    claimed = {e.data["assignee"] for e in assigned if e.data["how"] != "auto"}
    assert claimed == {"ns_li", "sup_wang", AM} and {e.data["how"] for e in assigned} == {"claim", "auto"}
    # field engineer nodes are dispatched to the on-duty person (organisation.yaml); the others are claimed
    auto = [e for e in assigned if e.data["how"] == "auto"]
    assert auto and {e.data["role"] for e in auto} == {"field_engineer"}
    completed = [e for e in evs if e.type == "eoms.ticket.node_completed"]
    assert len(completed) == len(entered), "every node entered is left (a return counts as leaving)"
    assert any(e.data["outcome"] == "$return" for e in completed)
    assert any(e.type == "eoms.ticket.node_returned" for e in evs)
    paused = [e for e in evs if e.type == "eoms.ticket.state_changed" and e.data["to_state"] == "pending"]
    assert paused and paused[0].data["sla_paused"] is True and paused[0].data["role"] == "network_staff"
    assert all(e.data["resolution"] == "resolved" for e in evs if e.type == "eoms.ticket.resolved")


async def test_concurrent_claims_one_wins_and_queue_pages_oldest_first(infra: Any, bridge: str) -> None:
    o = order(items=3)
    await produce(infra, CRM_ORDERS, wrap(o, o.order_id))
    async with httpx.AsyncClient(base_url=bridge, timeout=10) as http:
        ts = await tickets_of(http, o.order_id, 3)
        mine = {t["id"] for t in ts}
        seen: list[str] = []
        keys: list[tuple[str, str]] = []
        cursor = None
        for _ in range(400):  # page through the whole unassigned network_staff queue
            params: dict[str, Any] = {"limit": 50, "unassigned": "true"}
            if cursor:
                params["cursor"] = cursor
            page = (await http.get("/api/v1/queues/network_staff", params=params, headers=NS_A)).json()
            assert all(i["role"] == "network_staff" and i["assignee"] is None for i in page["items"])
            seen += [i["ticket_id"] for i in page["items"] if i["ticket_id"] in mine]
            keys += [(i["node_entered_at"], i["ticket_id"]) for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(mine), "each task exactly once across pages"
        assert len(keys) == len(set(keys)) and keys == sorted(keys, key=lambda k: (datetime.fromisoformat(
            k[0].replace("Z", "+00:00")), k[1])), "oldest first, no task twice"

        tid = ts[0]["id"]
        r1, r2 = await asyncio.gather(action(http, tid, "accept", NS_A), action(http, tid, "accept", NS_B))
        assert sorted([r1.status_code, r2.status_code]) == [200, 409], (r1.text, r2.text)
        loser = r2 if r2.status_code == 409 else r1
        assert loser.headers["content-type"] == "application/problem+json"
        t = (await http.get(f"/api/v1/tickets/{tid}", headers=SUP)).json()
        assert t["assignee"] in ("ns_li", "ns_zhao") and t["version"] == 2
        # Optimistic lock over REST: a stale expected_version is a 409.
        r = await action(http, tid, "complete", auth(t["assignee"], "network_staff"), outcome="accepted",
                         expected_version=1)
        assert r.status_code == 409
        queue = (await http.get("/api/v1/queues/network_staff", params={"unassigned": "true", "limit": 200},
                                headers=NS_A)).json()
        assert tid not in {i["ticket_id"] for i in queue["items"]}, "a claimed task leaves the unassigned queue"


async def test_redelivered_order_opens_one_set_of_tickets(infra: Any, bridge: str) -> None:
    o = order()
    first = wrap(o, o.order_id)
    again = wrap(o, o.order_id)  # same order, another envelope id (e.g. a CRM outbox replay)
    await produce(infra, CRM_ORDERS, first, first, again)
    engine = create_async_engine(infra.database_url)
    try:
        async def processed() -> bool:
            async with engine.connect() as c:
                n = (await c.execute(text("SELECT count(*) FROM eoms.inbox WHERE consumer = :g AND event_id = :e"),
                                     {"g": GROUP, "e": again.id})).scalar()
            return bool(n)

        await eventually(processed, timeout_s=20, what="the third envelope consumed")
        async with engine.connect() as c:
            n = (await c.execute(text("SELECT count(*) FROM eoms.tickets WHERE origin_id = :o"),
                                 {"o": o.order_id})).scalar()
        assert n == 1
    finally:
        await engine.dispose()

    async def created() -> list[Envelope]:
        return [e for e in await read_events(infra.kafka_bootstrap, EOMS_TICKETS, types={"eoms.ticket.created"})
                if e.data["origin_id"] == o.order_id]

    await eventually(created, what="ticket created")
    await asyncio.sleep(0.5)
    assert len(await created()) == 1


async def test_rbac_and_illegal_actions(infra: Any, bridge: str) -> None:
    o = order()
    await produce(infra, CRM_ORDERS, wrap(o, o.order_id))
    async with httpx.AsyncClient(base_url=bridge, timeout=10) as http:
        (t,) = await tickets_of(http, o.order_id)
        tid = t["id"]
        assert (await http.post(f"/api/v1/tickets/{tid}/actions/accept")).status_code == 401
        assert (await action(http, tid, "accept", AMH)).status_code == 403, "account manager: not a network role"
        dispatcher = auth("disp_it", "dispatcher")
        assert (await action(http, tid, "accept", dispatcher)).status_code == 403, "a dispatcher works no node"
        assert (await action(http, tid, "accept", auth("ns_x", "network_resource"))).status_code == 403, "no catch-all"
        assert (await action(http, tid, "complete", NS_A, outcome="accepted")).status_code == 409, "not accepted"
        assert (await action(http, tid, "accept", NS_A)).status_code == 200
        assert (await action(http, tid, "complete", NS_B, outcome="accepted")).status_code == 403, "not assignee"
        assert (await action(http, tid, "resume", NS_A)).status_code == 409, "not pending"
        r = await action(http, tid, "complete", NS_A, outcome="teleported")
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "outcome"
        r = await action(http, tid, "complete", NS_A, outcome="order_incomplete")
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
        assert (await action(http, tid, "return", NS_A, reason="x")).status_code == 409, "first node"
        assert (await action(http, tid, "fly", NS_A)).status_code == 422
        # Reassign stays within the role: the assignee hands over to a colleague.
        r = await action(http, tid, "reassign", NS_A, to="ns_zhao")
        assert r.status_code == 200 and r.json()["assignee"] == "ns_zhao"
        other_am = auth("am_someone_else", "account_manager")
        # Another manager's ticket is 404 (it used to be 403, which disclosed that it exists: issue 14, item 2).
        assert (await http.get(f"/api/v1/tickets/{tid}", headers=other_am)).status_code == 404
        assert (await http.get(f"/api/v1/tickets/{tid}", headers=AMH)).status_code == 200
        assert (await http.get("/api/v1/queues/network_resource", headers=AMH)).status_code == 403
        assert (await http.get("/api/v1/queues/network_resource", headers=NS_A)).status_code == 403, "no catch-all"
        resource = auth("nr_it", "network_resource")
        assert (await http.get("/api/v1/queues/network_resource", headers=resource)).status_code == 200
        r = await action(http, tid, "complete", auth("ns_zhao", "network_staff"), outcome="order_incomplete",
                         reason="missing A-end address")
        assert r.status_code == 200 and r.json()["state"] == "rejected"
        assert (await action(http, tid, "accept", NS_A)).status_code == 409, "terminal"


async def test_a_ticket_says_what_the_caller_may_do_and_names_its_nodes(infra: Any, bridge: str) -> None:
    o = order().model_copy(update={"customer_region": "滨海新区"})
    await produce(infra, CRM_ORDERS, wrap(o, o.order_id))
    async with httpx.AsyncClient(base_url=bridge, timeout=10) as http:
        (t,) = await tickets_of(http, o.order_id)
        tid = t["id"]

        async def seen_by(headers: dict[str, str]) -> dict[str, Any]:
            r = await http.get(f"/api/v1/tickets/{tid}", headers=headers)
            assert r.status_code == 200, r.text
            return r.json()  # type: ignore[no-any-return]

        ns = await seen_by(NS_A)
        assert ns["customer_region"] == "滨海新区"
        assert ns["current_node_title"] == {"zh-CN": "受理单审核", "en": "order acceptance check"}
        assert ns["nodes"][0]["title"] == ns["current_node_title"]
        assert ns["legal_actions"] == ["accept", "reassign", "hold", "cancel"]
        assert ns["allowed_actions"] == ["accept", "reassign"], "network staff work the node, no authority"
        assert (await seen_by(SUP))["allowed_actions"] == ["accept", "reassign", "hold", "cancel"], (
            "authority: a supervisor may override the node's role")
        assert (await seen_by(AMH))["allowed_actions"] == []
        accepted, rejected = ns["allowed_outcomes"]
        assert accepted == {"outcome": "accepted", "next_node": "resource_check",
                            "label": {"zh-CN": "受理", "en": "accepted"},
                            "next_title": {"zh-CN": "资源核查(传输电路及端口资源)", "en": "resource check"},
                            "needs_reason": False}
        assert rejected["outcome"] == "order_incomplete" and rejected["next_node"] == "$rejected"
        assert rejected["needs_reason"] is True and rejected["next_title"] is None

        r = await action(http, tid, "accept", NS_A)
        assert r.json()["allowed_actions"] == ["complete", "suspend", "reassign"], "the answer is for the caller"
        assert (await seen_by(NS_B))["allowed_actions"] == [], "a colleague: not the assignee"
        r = await action(http, tid, "suspend", NS_A, reason="waiting for the site contact")
        assert r.json()["allowed_actions"] == ["resume", "reassign"]
        assert (await seen_by(SUP))["allowed_actions"] == ["resume", "reassign", "hold", "cancel"]

        # the queue names the node and carries the region; the deadline is the SLA's (GET /api/v1/at-risk?ticket_id=)
        page = (await http.get("/api/v1/queues/network_staff", params={"assignee": "ns_li", "limit": 200},
                               headers=NS_A)).json()
        task = next(i for i in page["items"] if i["ticket_id"] == tid)
        assert task["node_title"]["en"] == "order acceptance check" and task["customer_region"] == "滨海新区"

        # the workflow, for the roles that work its nodes, with titles in both languages
        path = f"/api/v1/workflows/{t['workflow_id']}/versions/{t['workflow_version']}"
        wf = (await http.get(path, headers=NS_A)).json()
        nodes = [n for tk in wf["definition"]["tickets"] for n in tk["nodes"]]
        assert all(n["title_zh"] and n["title_en"] for n in nodes)
        first = next(n for n in nodes if n["name"] == "order_acceptance_check")
        assert (first["title_zh"], first["title_en"]) == ("受理单审核", "order acceptance check")
        assert (await http.get(path, headers=AMH)).status_code == 200, "account managers work some of its nodes"
        admin_view = (await http.get(f"/api/v1/admin/workflows/{t['workflow_id']}/versions/{t['workflow_version']}",
                                     headers=ADMIN)).json()
        assert admin_view["definition"] == wf["definition"]
        complaint_wf = (await http.get("/api/v1/admin/workflows", params={"business_type": "group_sms.complaint"},
                                       headers=ADMIN)).json()[0]
        r = await http.get(f"/api/v1/workflows/{complaint_wf['id']}/versions/{complaint_wf['version']}", headers=AMH)
        assert r.status_code == 403, "no node of that workflow is an account manager's"
        assert (await http.get(path)).status_code == 401

    async def entered() -> list[Envelope]:
        return [e for e in await read_events(infra.kafka_bootstrap, EOMS_TICKETS, subject=tid,
                                             types={"eoms.ticket.node_entered"})]

    (e,) = await eventually(entered, what="node_entered")
    assert e.data["customer_region"] == "滨海新区", "the SLA reads the region from the ticket events"


async def test_cancelled_order_cancels_open_tickets_and_complaints_open_fault_tickets(infra: Any, bridge: str) -> None:
    o = order("group_sms.opening")
    complaint = ComplaintCreated(
        complaint_id=new_id("cmp"), category="service_outage", severity="high", product="dedicated_line_data",
        description="专线中断", created_at=datetime.now(UTC), customer_id="cus_eoms_it", customer_name="天津港集团",
        customer_tier="B", account_manager_id=AM)
    await produce(infra, CRM_ORDERS, wrap(o, o.order_id))
    await produce(infra, CRM_COMPLAINTS, wrap(complaint, complaint.complaint_id))
    async with httpx.AsyncClient(base_url=bridge, timeout=10) as http:
        (t,) = await tickets_of(http, o.order_id)
        cancel = OrderCancelled(order_id=o.order_id, customer_id="cus_eoms_it", reason="customer withdrew",
                                cancelled_at=datetime.now(UTC))
        await produce(infra, CRM_ORDERS, wrap(cancel, o.order_id))

        async def cancelled() -> bool:
            r = await http.get(f"/tmf-api/troubleTicket/v4/troubleTicket/{t['id']}", headers=SUP)
            return bool(r.json()["status"] == "cancelled")

        await eventually(cancelled, what="ticket cancelled")
        (c,) = await tickets_of(http, complaint.complaint_id)
        assert (c["kind"], c["business_type"], c["current_node"], c["current_role"]) == (
            "complaint_fault", "dedicated_line_data.complaint", "complaint_registration", "complaint_desk")
        tmf = (await http.get(f"/tmf-api/troubleTicket/v4/troubleTicket/{c['id']}", headers=SUP)).json()
        assert tmf["severity"] == "high" and tmf["status"] == "acknowledged"

    async def closed() -> list[Envelope]:
        return await read_events(infra.kafka_bootstrap, EOMS_TICKETS, subject=t["id"], types={"eoms.ticket.closed"})

    (ev,) = await eventually(closed, what="eoms.ticket.closed for the cancelled ticket")
    assert ev.data["final_state"] == "cancelled" and ev.data["reason"] == "customer withdrew"


async def test_a_complaint_naming_no_product_is_triaged_then_routed_by_its_category(infra: Any, bridge: str) -> None:
    complaint = ComplaintCreated(
        complaint_id=new_id("cmp"), category="fault", severity="medium", product=None,
        description="客户反映集团业务异常，未说明具体产品", created_at=datetime.now(UTC), customer_id="cus_eoms_it",
        customer_name="天津港集团", customer_tier="C", account_manager_id=AM)
    await produce(infra, CRM_COMPLAINTS, wrap(complaint, complaint.complaint_id))
    async with httpx.AsyncClient(base_url=bridge, timeout=10) as http:
        (c,) = await tickets_of(http, complaint.complaint_id)
        assert (c["kind"], c["business_type"], c["current_node"], c["current_role"]) == (
            "complaint_fault", GENERIC_COMPLAINT, "complaint_registration", "complaint_desk")
        tid = c["id"]
        detail = (await http.get(f"/api/v1/tickets/{tid}", headers=SUP)).json()
        assert detail["data"]["category"] == "fault" and detail["data"]["product"] is None
        assert (await work(http, tid, "registered"))["current_node"] == "complaint_triage"
        # the complaint desk triages by the category: a fault goes to fault location
        assert (await work(http, tid, "fault"))["current_node"] == "fault_location"
        assert (await work(http, tid, "located"))["current_role"] == "network_staff"
        await work(http, tid, "repaired")
        await work(http, tid, "passed")
        await work(http, tid, "satisfied")
        done = await work(http, tid, "archived")
        assert done["state"] == "resolved"

    async def resolved() -> list[Envelope]:
        return await read_events(infra.kafka_bootstrap, EOMS_TICKETS, subject=tid, types={"eoms.ticket.resolved"})

    (ev,) = await eventually(resolved, what="eoms.ticket.resolved of the generic complaint ticket")
    assert ev.data["business_type"] == GENERIC_COMPLAINT and ev.data["resolution"] == "resolved"
    entered = [e.data["node"] for e in await read_events(infra.kafka_bootstrap, EOMS_TICKETS, subject=tid,
                                                          types={"eoms.ticket.node_entered"})]
    assert entered == ["complaint_registration", "complaint_triage", "fault_location", "fault_repair",
                       "recovery_test", "customer_revisit", "archive"]
    dead = await read_events(infra.kafka_bootstrap, dlq(CRM_COMPLAINTS), subject=complaint.complaint_id)
    assert dead == [], "a complaint naming no product is a valid business input: never dead-lettered"


async def test_admin_publishes_versions_and_running_tickets_keep_theirs(infra: Any, bridge: str) -> None:
    bt = "m2m.cancellation"
    before = order(bt)
    await produce(infra, CRM_ORDERS, wrap(before, before.order_id))
    async with httpx.AsyncClient(base_url=bridge, timeout=10) as http:
        (old,) = await tickets_of(http, before.order_id)
        listing = (await http.get("/api/v1/admin/workflows", params={"business_type": bt}, headers=ADMIN)).json()
        latest = next(w for w in listing if w["latest"])
        assert (await http.get("/api/v1/admin/workflows", headers=NS_A)).status_code == 403
        full = (await http.get(f"/api/v1/admin/workflows/{latest['id']}/versions/{latest['version']}",
                               headers=ADMIN)).json()["definition"]

        broken = {**full, "version": None, "tickets": [{**full["tickets"][0], "start_node": "nowhere"}]}
        broken["tickets"][0]["nodes"] = [{**full["tickets"][0]["nodes"][0], "role": "astronaut"}]
        r = await http.post("/api/v1/admin/workflows", headers=ADMIN, json=broken)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        messages = [e["message"] for e in r.json()["errors"]]
        assert any("astronaut" in m for m in messages), messages
        assert (await http.post("/api/v1/admin/workflows", headers=NS_A, json=full)).status_code == 403
        stale = {**full, "version": latest["version"]}
        assert (await http.post("/api/v1/admin/workflows", headers=ADMIN, json=stale)).status_code == 409

        nxt = {**full, "title_zh": f"{full.get('title_zh', '')} (rev {uuid.uuid4().hex[:6]})"}
        nxt.pop("version")
        r = await http.post("/api/v1/admin/workflows", headers=ADMIN, json=nxt)
        assert r.status_code == 201, r.text
        assert r.json()["version"] == latest["version"] + 1 and r.json()["latest"] is True

        after = order(bt)
        await produce(infra, CRM_ORDERS, wrap(after, after.order_id))
        (new,) = await tickets_of(http, after.order_id)
        assert new["workflow_version"] == latest["version"] + 1
        again = (await http.get(f"/api/v1/tickets/{old['id']}", headers=SUP)).json()
        assert again["workflow_version"] == old["workflow_version"] == latest["version"]
