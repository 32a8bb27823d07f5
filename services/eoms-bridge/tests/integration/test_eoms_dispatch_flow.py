"""Dispatch and partner access on real PostgreSQL and Kafka (issue 13, items 2-3): the bridge in-process with
an organisation file of the test's own (a fresh region per run, so the round-robin cursors start afresh):

- a node entered is dispatched to the on-duty person of its role in the ticket's region, by Shanghai
  shift times (day shift, night shift, a region without a roster of its own), round robin fairly;
- reassignment to a named person and to a unit, and a dispatcher's dispatch on demand, each in the
  ticket's history and on eoms.tickets (node_assigned: how, assignee_unit); "tasks assigned to me" and
  "tickets I took part in";
- a partner_si node records its partner when entered: that partner's engineers see it unassigned in their
  queue and work it; another partner's engineer gets 404.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from backbone.auth import issue_token
from backbone.events import OrderItem, OrderSubmitted
from backbone.ids import new_id
from backbone.settings import DEV_JWT_SECRET
from backbone.topics import EOMS_TICKETS
from eoms_bridge.main import build_app
from eoms_bridge.services import tickets as ticket_service
from eoms_bridge.settings import EomsSettings
from tests.support.kafka_tools import eventually, read_events

pytestmark = pytest.mark.asyncio(loop_scope="session")

WEDNESDAY_10H = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
WEDNESDAY_20H = WEDNESDAY_10H + timedelta(hours=10)  # 20:00 in Shanghai: the night shift


def auth(subject: str, *roles: str, partner: str | None = None) -> dict[str, str]:
    return {"Authorization": "Bearer " + issue_token(subject, list(roles), secret=DEV_JWT_SECRET, partner=partner)}


def organisation(region: str) -> dict[str, Any]:
    return {
        "version": 1,
        "regions": [{"id": region}, {"id": f"{region}-south"}],
        "departments": [{"id": "net", "name": "网络部"}, {"id": "south-unit", "name": "南部分部"},
                        {"id": "si-hw", "name": "华为"}, {"id": "si-zte", "name": "中兴"}],
        "partners": [{"id": "huawei", "name": "华为"}, {"id": "zte", "name": "中兴"}],
        "people": [
            *({"id": f"ns_{x}", "name": x, "roles": ["network_staff"], "department": "net"} for x in "abc"),
            {"id": "ns_s", "name": "s", "roles": ["network_staff"], "department": "south-unit"},
            {"id": "nr_1", "name": "nr", "roles": ["network_resource"], "department": "net"},
            {"id": "hw_1", "name": "hw", "roles": ["partner_si"], "department": "si-hw", "partner": "huawei"},
            {"id": "zte_1", "name": "zte", "roles": ["partner_si"], "department": "si-zte", "partner": "zte"},
        ],
        "dispatch": [{"role": "network_staff", "strategy": "round_robin"}],
        "rosters": [
            {"role": "network_staff", "regions": [region], "shifts": [
                {"days": "mon-fri", "hours": "08:30-17:30", "people": ["ns_a", "ns_b", "ns_c"]},
                {"days": "mon-fri", "hours": "17:30-08:30", "people": ["ns_c"]}]},
            {"role": "network_staff", "regions": ["*"], "shifts": [
                {"days": "daily", "hours": "00:00-00:00", "people": ["ns_s"]}]},
            {"role": "network_resource", "regions": [region], "shifts": [
                {"days": "daily", "hours": "00:00-00:00", "people": ["nr_1"]}]},
        ],
        "partner_nodes": [{"partner": "huawei", "regions": [region]}, {"partner": "zte"}],
    }


@pytest.fixture
async def bridge(infra: Any, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Any, str]]:
    region = f"north-{new_id('r')}"
    org_file = tmp_path / "organisation.yaml"
    org_file.write_text(yaml.safe_dump(organisation(region), allow_unicode=True), encoding="utf-8")
    settings = EomsSettings(
        database_url=infra.database_url, kafka_bootstrap_servers=infra.kafka_bootstrap, environment="test",
        consumer_group=f"eoms-dispatch-{new_id('t')}", run_consumers=False, organisation_file=str(org_file))
    app = build_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://eoms-bridge") as http:
        yield http, app.state.runtime, region


async def open_ticket(runtime: Any, business_type: str, region: str, now: datetime) -> str:
    product, _, kind = business_type.partition(".")
    order = OrderSubmitted(
        order_id=new_id("ord"), channel="account_manager", submitted_at=now, customer_id="cus_dispatch",
        customer_name="调度测试客户", customer_tier="B", account_manager_id="am_dispatch", customer_region=region,
        items=[OrderItem(item_id=new_id("itm"), product=product, business_kind=kind,  # type: ignore[arg-type]
                         business_type=business_type)])
    ctx = runtime.context
    async with runtime.session_factory() as s, s.begin():
        tids = await ticket_service.open_tickets_for_order(s, store=ctx.store, order=order, now=now,
                                                           org=ctx.organisation)
    return str(tids[0])


SUP = auth("sup_dispatch", "supervisor")


async def ticket(http: httpx.AsyncClient, tid: str, headers: dict[str, str] = SUP) -> dict[str, Any]:
    r = await http.get(f"/api/v1/tickets/{tid}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_on_duty_dispatch_by_region_and_time_round_robin_and_reassignment_history(
        infra: Any, bridge: tuple[httpx.AsyncClient, Any, str]) -> None:
    http, runtime, region = bridge
    # Six tickets in the region at 10:00: the day shift (a, b, c) takes turns, twice each.
    day = [await open_ticket(runtime, "dedicated_line_data.opening", region, WEDNESDAY_10H) for _ in range(6)]
    assignees = [(await ticket(http, tid))["assignee"] for tid in day]
    assert Counter(assignees) == {"ns_a": 2, "ns_b": 2, "ns_c": 2}, assignees
    assert all(a != b for a, b in itertools.pairwise(assignees)), "round robin: never twice in a row"
    # 20:00: only the night shift is on duty; a region without a roster of its own takes the "*" roster.
    night = await open_ticket(runtime, "dedicated_line_data.opening", region, WEDNESDAY_20H)
    assert (await ticket(http, night))["assignee"] == "ns_c"
    south = await open_ticket(runtime, "dedicated_line_data.opening", f"{region}-south", WEDNESDAY_10H)
    assert (await ticket(http, south))["assignee"] == "ns_s"

    tid, first = day[0], assignees[0]
    t = await ticket(http, tid)
    assert t["state"] == "acknowledged" and t["allowed_actions"] == ["reassign", "hold", "cancel"]
    assert (await ticket(http, tid, auth(first, "network_staff")))["allowed_actions"] == ["accept", "reassign"]
    mine = (await http.get("/api/v1/assignments/mine", headers=auth(first, "network_staff"),
                           params={"limit": 200})).json()
    assert tid in [task["ticket_id"] for task in mine["items"]]
    # someone else holding the role cannot take a dispatched node; its assignee accepts it to start
    other = next(p for p in ("ns_a", "ns_b", "ns_c") if p != first)
    r = await http.post(f"/api/v1/tickets/{tid}/actions/accept", headers=auth(other, "network_staff"), json={})
    assert r.status_code == 409, r.text
    dispatcher = auth(new_id("disp"), "dispatcher")  # a fresh one: it took part in this run's tickets only
    r = await http.post(f"/api/v1/tickets/{tid}/actions/reassign", headers=dispatcher, json={"to": other})
    assert r.status_code == 200 and r.json()["assignee"] == other, r.text
    r = await http.post(f"/api/v1/tickets/{tid}/actions/reassign", headers=dispatcher,
                        json={"to": "hw_1"})  # hw_1 is partner_si in the organisation: outside the role
    assert r.status_code == 403, r.text
    r = await http.post(f"/api/v1/tickets/{tid}/actions/reassign", headers=dispatcher, json={"to_unit": "south-unit"})
    assert r.status_code == 200 and r.json()["assignee"] == "ns_s", r.text
    r = await http.post(f"/api/v1/tickets/{tid}/actions/reassign", headers=dispatcher, json={"to_unit": "nowhere"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "to_unit", r.text
    r = await http.post(f"/api/v1/tickets/{tid}/actions/reassign", headers=SUP, json={"to": "hw_1"})
    assert r.status_code == 200, r.text  # a supervisor may hand it outside the role: recorded as an override
    r = await http.post(f"/api/v1/tickets/{tid}/actions/accept", headers=auth("ns_s", "network_staff"), json={})
    assert r.status_code == 409  # no longer theirs
    notes = [h["note"] for h in (await ticket(http, tid))["history"] if h["event_type"] == "eoms.ticket.node_assigned"]
    assert notes == [f"auto: assignee - -> {first}", f"manual: assignee {first} -> {other}",
                     f"manual: assignee {other} -> ns_s (unit south-unit)", "override: assignee ns_s -> hw_1"]
    involved = (await http.get("/api/v1/assignments/involved", headers=dispatcher)).json()
    assert [x["id"] for x in involved["items"]] == [tid], "the dispatcher took part in this ticket only"

    # A dispatcher dispatches an unclaimed node on demand (network_resource has no automatic rule here).
    async def to_resource_check(tid: str) -> None:
        who = auth((await ticket(http, tid))["assignee"], "network_staff")
        for name, body in (("accept", {}), ("complete", {"outcome": "accepted"})):
            r = await http.post(f"/api/v1/tickets/{tid}/actions/{name}", headers=who, json=body)
            assert r.status_code == 200, r.text

    await to_resource_check(day[1])
    assert (await ticket(http, day[1]))["assignee"] is None
    r = await http.post(f"/api/v1/assignments/{day[1]}/dispatch", headers=auth("am_x", "account_manager"), json={})
    assert r.status_code == 403
    r = await http.post(f"/api/v1/assignments/{day[1]}/dispatch", headers=dispatcher, json={})
    assert r.status_code == 200 and r.json()["assignee"] == "nr_1", r.text
    r = await http.post(f"/api/v1/assignments/{day[1]}/dispatch", headers=dispatcher, json={})
    assert r.status_code == 409, "already assigned"
    await to_resource_check(south)
    r = await http.post(f"/api/v1/assignments/{south}/dispatch", headers=dispatcher, json={})
    assert r.status_code == 422, "nobody on duty for network_resource in that region"

    async def assigned() -> list[Any]:
        evs = await read_events(infra.kafka_bootstrap, EOMS_TICKETS, subject=tid, types={"eoms.ticket.node_assigned"})
        return evs if len(evs) == 4 else []

    evs = await eventually(assigned, what="four node_assigned events of the reassigned ticket")
    assert [(e.data["how"], e.data["assignee"], e.data["assignee_unit"]) for e in evs] == [
        ("auto", first, None), ("manual", other, None), ("manual", "ns_s", "south-unit"),
        ("override", "hw_1", None)]


async def test_a_partner_node_is_seen_and_worked_by_its_partner_only(
        infra: Any, bridge: tuple[httpx.AsyncClient, Any, str]) -> None:
    http, runtime, region = bridge
    tid = await open_ticket(runtime, "group_sms.opening", region, WEDNESDAY_10H)
    t = await ticket(http, tid)
    staff = auth(t["assignee"], "network_staff")
    for name, body in (("accept", {}), ("complete", {"outcome": "accepted"})):
        r = await http.post(f"/api/v1/tickets/{tid}/actions/{name}", headers=staff, json=body)
        assert r.status_code == 200, r.text
    resource = auth("nr_1", "network_resource")
    for name, body in (("accept", {}), ("complete", {"outcome": "needs_partner_assessment"})):
        r = await http.post(f"/api/v1/tickets/{tid}/actions/{name}", headers=resource, json=body)
        assert r.status_code == 200, r.text
    t = await ticket(http, tid)
    assert (t["current_node"], t["partner"], t["assignee"]) == ("partner_assessment", "huawei", None)
    assert t["nodes"][-1]["partner"] == "huawei"

    huawei, colleague, zte = (auth("hw_1", "partner_si", partner="huawei"),
                              auth("hw_2", "partner_si", partner="huawei"), auth("zte_1", "partner_si", partner="zte"))
    queue = (await http.get("/api/v1/queues/partner_si", headers=colleague,
                            params={"unassigned": "true", "limit": 200})).json()
    assert tid in [x["ticket_id"] for x in queue["items"]], "an unassigned partner task is in its partner's queue"
    theirs = (await http.get("/api/v1/queues/partner_si", headers=zte, params={"limit": 200})).json()
    assert tid not in [x["ticket_id"] for x in theirs["items"]]
    for method, path in (("GET", f"/api/v1/tickets/{tid}"), ("POST", f"/api/v1/tickets/{tid}/actions/accept")):
        r = await http.request(method, path, headers=zte, json={} if method == "POST" else None)
        assert r.status_code == 404 and "cus_dispatch" not in r.text, (method, r.text)
    r = await http.post(f"/api/v1/tickets/{tid}/actions/accept", headers=huawei, json={})
    assert r.status_code == 200 and r.json()["assignee"] == "hw_1", r.text
    r = await http.post(f"/api/v1/tickets/{tid}/actions/complete", headers=huawei, json={"outcome": "capable"})
    assert r.status_code == 200, r.text
    # the node is left: the ticket is no longer the partner's to see
    assert (await http.get(f"/api/v1/tickets/{tid}", headers=huawei)).status_code == 404
    assert (await ticket(http, tid))["partner"] is None


async def test_whom_a_dispatcher_can_dispatch_to_on_duty_first_with_their_load(
        infra: Any, bridge: tuple[httpx.AsyncClient, Any, str]) -> None:
    http, runtime, region = bridge
    dispatcher = auth(new_id("disp"), "dispatcher")

    async def people(role: str, where: str) -> list[dict[str, Any]]:
        r = await http.get("/api/v1/assignments/people", headers=dispatcher, params={"role": role, "region": where})
        assert r.status_code == 200, r.text
        assert (r.json()["role"], r.json()["region"]) == (role, where)
        return r.json()["items"]  # type: ignore[no-any-return]

    # a region without a roster of its own: the "*" roster's ns_s is on duty around the clock, first
    south = await people("network_staff", f"{region}-south")
    assert [(p["id"], p["on_duty"]) for p in south] == [
        ("ns_s", True), ("ns_a", False), ("ns_b", False), ("ns_c", False)]
    assert south[0]["department"] == "south-unit" and south[0]["department_name"] == "南部分部"
    assert all("phone" not in p and "email" not in p for p in south)
    assert [p["id"] for p in await people("network_resource", region)] == ["nr_1"]
    assert (await people("network_resource", region))[0]["on_duty"] is True  # a 24-hour shift
    # the load is the open tasks assigned now: one more for ns_s once a task is handed to them
    before = {p["id"]: p["open_tasks"] for p in south}
    tid = await open_ticket(runtime, "dedicated_line_data.opening", f"{region}-south", WEDNESDAY_10H)
    assert (await ticket(http, tid))["assignee"] == "ns_s"
    after = {p["id"]: p["open_tasks"] for p in await people("network_staff", f"{region}-south")}
    assert after == {**before, "ns_s": before["ns_s"] + 1}
    # the dispatcher's view of a region: the queue filtered by the customers' region
    for where, present in ((f"{region}-south", True), (region, False)):
        page = (await http.get("/api/v1/queues/network_staff", headers=dispatcher,
                               params={"region": where, "limit": 200})).json()
        assert (tid in [x["ticket_id"] for x in page["items"]]) is present, where
        assert {x["customer_region"] for x in page["items"]} <= {where}
    # only who dispatches reads it; a role that is not a node role is a 422 naming it
    r = await http.get("/api/v1/assignments/people", headers=auth("ns_a", "network_staff"),
                       params={"role": "network_staff"})
    assert r.status_code == 403
    r = await http.get("/api/v1/assignments/people", headers=dispatcher, params={"role": "wizard"})
    assert r.status_code == 422 and "role" in r.text
