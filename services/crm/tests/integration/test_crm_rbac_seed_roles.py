"""The seed's roles on the CRM (issue 13, docs/crm.md "Roles"): the complaint desk and the department head.

Real PostgreSQL and Kafka (the `crm` fixture). The complaint desk reads every customer (key persons
masked) and registers and reads complaints for any customer, nothing else; the department head reads
like a supervisor and changes nothing; the customer's account manager or an admin assigns a customer's
agent (PUT /api/v1/customers/{id}/agent), who reads that customer and its orders and orders for it
through the agent channel only (any other customer: 404, never data).
"""

from __future__ import annotations

import pytest
from crm_testkit import DATA_LINE, auth
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

pytestmark = pytest.mark.asyncio(loop_scope="session")

DESK = auth("desk_1", "complaint_desk")
HEAD = auth("head_1", "department_head")


async def test_the_complaint_desk_takes_complaints_for_any_customer(crm, am):
    c = await crm.customer(am)
    await crm.http.post(f"/api/v1/customers/{c['id']}/key-persons", headers=auth(am, "account_manager"),
                        json={"kind": "daily_contact", "name": "联系人", "phone": "13900001111"})
    r = await crm.http.get(f"/api/v1/customers/{c['id']}", headers=DESK)
    assert r.status_code == 200 and r.json()["id"] == c["id"]
    people = (await crm.http.get(f"/api/v1/customers/{c['id']}/key-persons", headers=DESK)).json()
    assert people and "13900001111" not in str(people)  # masked, as for a supervisor
    r = await crm.http.post("/api/v1/complaints", headers=DESK, json={
        "customer_id": c["id"], "category": "billing", "severity": "low", "description": "客户来电"})
    assert r.status_code == 201, r.text
    complaint = r.json()
    assert complaint["account_manager_id"] == am  # the customer's manager still owns the work
    assert (await crm.http.get(f"/api/v1/complaints/{complaint['id']}", headers=DESK)).status_code == 200
    listed = (await crm.http.get("/api/v1/complaints", headers=DESK, params={"customer_id": c["id"]})).json()
    assert [i["id"] for i in listed["items"]] == [complaint["id"]]
    # a complaint for no customer names the field
    r = await crm.http.post("/api/v1/complaints", headers=DESK, json={
        "customer_id": "cus_none", "category": "billing", "severity": "low", "description": "x"})
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    # nothing else: no orders, no changes, no complaint steps
    order = await crm.order(am, c["id"])
    refused = [
        await crm.http.get("/api/v1/orders", headers=DESK),
        await crm.http.get(f"/api/v1/orders/{order['id']}", headers=DESK),
        await crm.http.post("/api/v1/orders", headers=DESK, json={"customer_id": c["id"], "items": [DATA_LINE]}),
        await crm.http.patch(f"/api/v1/customers/{c['id']}", headers=DESK, json={"region": "天津-河东区"}),
        await crm.http.post(f"/api/v1/complaints/{complaint['id']}/archive", headers=DESK),
        await crm.http.get("/api/v1/admin/tiering", headers=DESK),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused), [r.text for r in refused]


async def test_a_department_head_reads_like_a_supervisor_and_changes_nothing(crm, am):
    c = await crm.customer(am)
    order = await crm.order(am, c["id"])
    complaint = await crm.complaint(am, c["id"])
    for path in (f"/api/v1/customers/{c['id']}", f"/api/v1/orders/{order['id']}",
                 f"/api/v1/complaints/{complaint['id']}", "/api/v1/customers", "/api/v1/orders",
                 "/api/v1/complaints", "/api/v1/opportunities", "/api/v1/products", "/api/v1/admin/tiering"):
        r = await crm.http.get(path, headers=HEAD)
        assert r.status_code == 200, (path, r.text)
    listed = (await crm.http.get("/api/v1/orders", headers=HEAD, params={"customer_id": c["id"]})).json()
    assert [i["id"] for i in listed["items"]] == [order["id"]]
    refused = [
        await crm.http.post("/api/v1/orders", headers=HEAD, json={"customer_id": c["id"], "items": [DATA_LINE]}),
        await crm.http.post("/api/v1/complaints", headers=HEAD, json={
            "customer_id": c["id"], "category": "billing", "severity": "low", "description": "x"}),
        await crm.http.patch(f"/api/v1/customers/{c['id']}", headers=HEAD, json={"region": "天津-河东区"}),
        await crm.http.post(f"/api/v1/orders/{order['id']}/cancel", headers=HEAD, json={"reason": "x"}),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused), [r.text for r in refused]


async def test_an_agent_works_only_the_customers_assigned_to_them(crm, am):
    agent = f"agent_{crm.run}_{am[-4:]}"
    me = auth(agent, "agent")
    mine, other = await crm.customer(am), await crm.customer(am)
    r = await crm.http.put(f"/api/v1/customers/{mine['id']}/agent", headers=auth(am, "account_manager"),
                           json={"agent_id": agent})
    assert r.status_code == 200, r.text
    theirs = await crm.order(am, mine["id"])
    not_theirs = await crm.order(am, other["id"])
    # reads: the assigned customer and its orders; the other customer and its orders are 404, never data
    assert (await crm.http.get(f"/api/v1/customers/{mine['id']}", headers=me)).json()["id"] == mine["id"]
    assert (await crm.http.get(f"/api/v1/orders/{theirs['id']}", headers=me)).status_code == 200
    for path in (f"/api/v1/customers/{other['id']}", f"/api/v1/orders/{not_theirs['id']}"):
        r = await crm.http.get(path, headers=me)
        assert r.status_code == 404 and other["name"] not in r.text, (path, r.text)
    customers = (await crm.http.get("/api/v1/customers", headers=me, params={"limit": 200})).json()["items"]
    assert [c["id"] for c in customers] == [mine["id"]]
    orders = (await crm.http.get("/api/v1/orders", headers=me, params={"limit": 200})).json()["items"]
    assert [o["id"] for o in orders] == [theirs["id"]]
    # orders through the agent channel only, for the assigned customer only
    r = await crm.http.post("/api/v1/orders", headers=me, json={"customer_id": mine["id"], "items": [DATA_LINE]})
    assert r.status_code == 201 and r.json()["channel"] == "agent", r.text
    assert r.json()["account_manager_id"] == am and r.json()["created_by"] == agent
    r = await crm.http.post("/api/v1/orders", headers=me, json={"customer_id": mine["id"], "channel": "agent",
                                                                "items": [DATA_LINE], "submit": True})
    assert r.status_code == 201 and r.json()["channel"] == "agent", r.text
    r = await crm.http.post("/api/v1/orders", headers=me, json={
        "customer_id": mine["id"], "channel": "account_manager", "items": [DATA_LINE]})
    assert r.status_code == 403 and "channel" in r.text
    r = await crm.http.post("/api/v1/orders", headers=me, json={"customer_id": other["id"], "items": [DATA_LINE]})
    assert r.status_code == 404 and other["name"] not in r.text
    # nothing else: key persons, opportunities, complaints, order steps, the workbench
    refused = [
        await crm.http.get(f"/api/v1/customers/{mine['id']}/key-persons", headers=me),
        await crm.http.get("/api/v1/opportunities", headers=me),
        await crm.http.get("/api/v1/complaints", headers=me),
        await crm.http.post(f"/api/v1/orders/{theirs['id']}/submit", headers=me),
        await crm.http.patch(f"/api/v1/customers/{mine['id']}", headers=me, json={"region": "x"}),
        await crm.http.get("/api/v1/me/workbench", headers=me),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused), [r.text for r in refused]
    # unassigned: the customer leaves the agent's reach at once
    await crm.http.put(f"/api/v1/customers/{mine['id']}/agent", headers=auth("root", "admin"), json={"agent_id": None})
    assert (await crm.http.get(f"/api/v1/orders/{theirs['id']}", headers=me)).status_code == 404
    assert (await crm.http.get("/api/v1/customers", headers=me)).json()["items"] == []


async def _agent_of(crm, customer_id: str) -> str | None:
    engine = create_async_engine(crm.infra.database_url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT agent_id FROM crm.customers WHERE id = :id"),
                                       {"id": customer_id})).scalar_one()
    finally:
        await engine.dispose()


async def test_the_account_manager_or_an_admin_assigns_a_customers_agent(crm, am):
    c = await crm.customer(am)
    path = f"/api/v1/customers/{c['id']}/agent"
    r = await crm.http.put(path, headers=auth(am, "account_manager"), json={"agent_id": "agent_1"})
    assert r.status_code == 200 and r.json() == {"customer_id": c["id"], "agent_id": "agent_1"}, r.text
    assert await _agent_of(crm, c["id"]) == "agent_1"
    r = await crm.http.put(path, headers=auth("root", "admin"), json={"agent_id": "agent_2"})
    assert r.status_code == 200 and await _agent_of(crm, c["id"]) == "agent_2"
    # another manager's customer is 404, never data; readers and agents may not assign
    r = await crm.http.put(path, headers=auth(am + "_x", "account_manager"), json={"agent_id": "agent_9"})
    assert r.status_code == 404 and c["name"] not in r.text
    for caller in (auth("sup_1", "supervisor"), HEAD, DESK, auth("agent_1", "agent")):
        assert (await crm.http.put(path, headers=caller, json={"agent_id": "agent_9"})).status_code == 403
    assert await _agent_of(crm, c["id"]) == "agent_2"
    # bad input names the field; null clears the assignment
    r = await crm.http.put(path, headers=auth(am, "account_manager"), json={})
    assert r.status_code == 422 and "agent_id" in r.text
    r = await crm.http.put(path, headers=auth(am, "account_manager"), json={"agent_id": " "})
    assert r.status_code == 422 and "agent_id" in r.text
    r = await crm.http.put(path, headers=auth(am, "account_manager"), json={"agent_id": None})
    assert r.status_code == 200 and r.json()["agent_id"] is None and await _agent_of(crm, c["id"]) is None
    r = await crm.http.put("/api/v1/customers/cus_none/agent", headers=auth("root", "admin"), json={"agent_id": "a"})
    assert r.status_code == 404
