"""The statistics read model on real Kafka and PostgreSQL, with the service as a real process.

A known event stream (orders, complaints and revisits, opportunities, ticket node events, SLA alerts:
out of order where the topics allow it, one redelivered under a new envelope) is produced to the
suite's topics; the figures the REST API answers equal the ones computed here by hand. The read model
is then rebuilt from offset zero (`stats.services.rebuild`: truncate, replay) and answers the same.

Everything this test produces is its run's own (region, account manager, people, roster), so a reused
infrastructure's history does not change the figures compared.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from backbone.auth import issue_token
from backbone.db import make_engine, make_session_factory
from backbone.envelope import Envelope
from backbone.events import (
    ComplaintCreated,
    ComplaintStatusChanged,
    OpportunityCreated,
    OpportunityStatusChanged,
    OrderSubmitted,
    SlaBreached,
    SlaEscalated,
    SlaMet,
    TicketNodeAssigned,
    TicketNodeCompleted,
    TicketNodeEntered,
    topic_of,
)
from backbone.kafka import Producer
from backbone.settings import DEV_JWT_SECRET
from devtools.infra import free_port, test_profile
from devtools.suite import ServiceProcess, spec
from stats.models import metadata, outbox
from stats.services.rebuild import rebuild
from tests.support.kafka_tools import eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")

RUN = uuid.uuid4().hex[:8]
REGION = f"region-{RUN}"
AM = f"am-{RUN}"
PA, PB, HEAD = f"pa-{RUN}", f"pb-{RUN}", f"head-{RUN}"
DEPT_A, DEPT_B = f"dept-a-{RUN}", f"dept-b-{RUN}"
D1 = date(2020, 1, 6)  # a Shanghai day
RANGE = {"from": "2020-01-06", "to": "2020-01-07"}


def at(hh: int, mm: int = 0, day: int = 6) -> datetime:
    """An instant of January 2020, UTC (Shanghai is +8: 01:00Z on the 6th is 09:00 on the 6th there)."""
    return datetime(2020, 1, day, hh, mm, tzinfo=UTC)


def token(subject: str, *roles: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + issue_token(subject, list(roles), secret=DEV_JWT_SECRET)}


SUPERVISOR = token(f"sup-{RUN}", "supervisor")
MANAGER = token(AM, "account_manager")


def _customer() -> dict[str, Any]:
    return {"customer_id": f"cus-{RUN}", "customer_name": "统计测试", "customer_tier": "B", "account_manager_id": AM,
            "customer_region": REGION}


def _ticket(ticket_id: str, node: str) -> dict[str, Any]:
    return {"ticket_id": ticket_id, "ticket_kind": "resource_confirmation",
            "business_type": "dedicated_line_data.opening", "origin": "order", "origin_id": f"ord-{ticket_id}",
            "customer_id": f"cus-{RUN}", "customer_name": "统计测试", "customer_tier": "B", "account_manager_id": AM,
            "workflow_id": "dedicated_line_data.opening", "workflow_version": 1, "node": node,
            "role": "network_resource", "customer_region": REGION}


def _alert(ticket_id: str, node: str, assignee: str | None) -> dict[str, Any]:
    return {"timer_id": f"tmr-{ticket_id}-{node}", "ticket_id": ticket_id, "ticket_kind": "resource_confirmation",
            "business_type": "dedicated_line_data.opening", "node": node, "role": "network_resource",
            "assignee": assignee, "customer_id": f"cus-{RUN}", "customer_name": "统计测试", "customer_tier": "B",
            "account_manager_id": AM, "deadline": at(1).isoformat(), "policy_version": "1",
            "customer_region": REGION}


def item(n: int, product: str) -> dict[str, Any]:
    return {"item_id": f"itm-{RUN}-{n}", "product": product, "business_kind": "opening",
            "business_type": f"{product}.opening"}


def stream() -> list[tuple[BaseModel, str, datetime | None]]:
    """(payload, subject, envelope time for SLA alerts) in the order they are produced."""
    t1, t2, t3 = f"tkt1-{RUN}", f"tkt2-{RUN}", f"tkt3-{RUN}"
    o1 = OrderSubmitted(**_customer(), order_id=f"o1-{RUN}", channel="account_manager",
                        items=[item(1, "dedicated_line_data"), item(2, "ip_transit")], submitted_at=at(1))
    events: list[tuple[BaseModel, str, datetime | None]] = [
        (o1, o1.order_id, None),
        (o1, o1.order_id, None),  # redelivered under a new envelope id: the same order items
        (OrderSubmitted(**_customer(), order_id=f"o2-{RUN}", channel="web_portal",
                        items=[item(3, "dedicated_line_data")], submitted_at=at(15, 30)), f"o2-{RUN}", None),
        # 00:30 on the 7th in Shanghai
        (OrderSubmitted(**_customer(), order_id=f"o3-{RUN}", channel="agent",
                        items=[item(4, "dedicated_line_data")], submitted_at=at(16, 30)), f"o3-{RUN}", None),
    ]
    for cid, product, score in ((f"c1-{RUN}", "dedicated_line_data", 5), (f"c2-{RUN}", None, 2),
                                (f"c3-{RUN}", "dedicated_line_data", 4)):
        events += [
            (ComplaintCreated(**_customer(), complaint_id=cid, category="fault", severity="high", product=product,
                              description="断线", created_at=at(2)), cid, None),
            (ComplaintStatusChanged(complaint_id=cid, customer_id=f"cus-{RUN}", from_status="created",
                                    to_status="dispatched", changed_at=at(3)), cid, None),
            (ComplaintStatusChanged(complaint_id=cid, customer_id=f"cus-{RUN}", from_status="resolved",
                                    to_status="revisited", satisfaction=score, changed_at=at(2, day=7)), cid, None),
        ]
    for oid, decision in ((f"op1-{RUN}", "confirmed"), (f"op2-{RUN}", "lost"), (f"op3-{RUN}", None)):
        events.append((OpportunityCreated(opportunity_id=oid, customer_id=f"cus-{RUN}", account_manager_id=AM,
                                          channel="account_manager", created_at=at(4)), oid, None))
        if decision:
            events.append((OpportunityStatusChanged(
                opportunity_id=oid, customer_id=f"cus-{RUN}", account_manager_id=AM, from_status="open",
                to_status=decision, changed_at=at(5)), oid, None))
    # op4: its decision arrives before its creation
    op4 = f"op4-{RUN}"
    events += [
        (OpportunityStatusChanged(opportunity_id=op4, customer_id=f"cus-{RUN}", account_manager_id=AM,
                                  from_status="open", to_status="confirmed", changed_at=at(6)), op4, None),
        (OpportunityCreated(opportunity_id=op4, customer_id=f"cus-{RUN}", account_manager_id=AM,
                            channel="web_portal", created_at=at(4)), op4, None),
    ]

    def enter(t: str, node: str, when: datetime) -> tuple[BaseModel, str, None]:
        return TicketNodeEntered(**_ticket(t, node), entered_at=when), t, None

    def done(t: str, node: str, when: datetime, who: str | None) -> tuple[BaseModel, str, None]:
        return TicketNodeCompleted(**_ticket(t, node), assignee=who, outcome="ok", completed_at=when), t, None

    def assign(t: str, node: str, when: datetime, who: str) -> tuple[BaseModel, str, None]:
        return TicketNodeAssigned(**_ticket(t, node), assignee=who, assigned_at=when), t, None

    events += [
        enter(t1, "n1", at(1)), assign(t1, "n1", at(1, 5), PA), done(t1, "n1", at(1, 10), PA),  # PA 600 s
        enter(t1, "n2", at(1, 10)), done(t1, "n2", at(1, 40), PA),  # PA 1800 s
        enter(t2, "n1", at(2)), assign(t2, "n1", at(2, 1), PB), done(t2, "n1", at(2, 20), None),  # PB 1200 s
        enter(t3, "n1", at(3)), done(t3, "n1", at(3, 5), PA),  # PA 300 s
        enter(t3, "n1", at(4)), done(t3, "n1", at(4, 40), PA),  # returned, again: PA 2400 s
        (SlaMet(**_alert(t1, "n1", PA), elapsed_seconds=600, late=False), t1, at(1, 11)),
        (SlaMet(**_alert(t1, "n2", PA), elapsed_seconds=1800, late=True), t1, at(1, 41)),
        (SlaMet(**_alert(t3, "n1", None), elapsed_seconds=2400, late=False), t3, at(5)),  # PA: the node's last
        (SlaBreached(**_alert(t2, "n1", PB), lateness_seconds=1), t2, at(2, 10)),
        (SlaEscalated(**_alert(t2, "n1", PB), level=1, escalate_to_role="supervisor", lateness_seconds=60),
         t2, at(2, 11)),
        (SlaEscalated(**_alert(t2, "n1", PB), level=2, escalate_to_role="department_head", lateness_seconds=120),
         t2, at(2, 12)),
        (SlaMet(**_alert(t2, "n1", PB), elapsed_seconds=1200, late=True), t2, at(2, 21)),
    ]
    return events


@pytest.fixture(scope="module")
async def stats_service(infra, tmp_path_factory) -> AsyncIterator[ServiceProcess]:
    roster = tmp_path_factory.mktemp("stats") / "roster.yaml"
    roster.write_text(
        f"version: 1\ndepartments:\n  - {{id: {DEPT_A}, name: A部, head: {HEAD}}}\n  - {{id: {DEPT_B}, name: B部}}\n"
        f"people:\n  {PA}: {DEPT_A}\n  {PB}: {DEPT_B}\n", encoding="utf-8")
    logs = test_profile().data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**infra.env(), "ENVIRONMENT": "test", "CONSUMER_GROUP": f"stats-test-{RUN}",
           "STATS_ROSTER_FILE": str(roster), "RUN_REPORT_SCHEDULER": "false", "CONSUMER_BACKOFF_INITIAL_S": "0.05"}
    proc = ServiceProcess(spec("stats"), env, free_port(), logs / f"stats-{RUN}.log").start(timeout=90)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
async def produced(infra, stats_service) -> None:
    producer = Producer(infra.kafka_bootstrap)
    await producer.start()
    try:
        for payload, subject, when in stream():
            env = Envelope.wrap(payload, source="test", subject=subject)
            if when is not None:
                env = env.model_copy(update={"time": when})
            await producer.send_and_wait(topic_of(env.type), env.to_bytes(), key=subject.encode())
    finally:
        await producer.stop()


async def get(service: ServiceProcess, path: str, headers: dict[str, str], **params: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=service.url, timeout=15) as http:
        return await http.get(path, headers=headers, params={**RANGE, **params})


def by(rows: list[dict[str, Any]], key: str = "group") -> dict[Any, dict[str, Any]]:
    return {r[key]: r for r in rows}


async def figures(service: ServiceProcess) -> dict[str, Any]:
    """Every figure this test checks, as the API answers them."""
    out: dict[str, Any] = {}
    r = await get(service, "/api/v1/stats/orders", SUPERVISOR, group_by="day,product,channel,region")
    out["orders"] = sorted((x["day"], x["product"], x["channel"], x["orders"], x["items"])
                           for x in r.json()["rows"] if x["region"] == REGION)
    r = await get(service, "/api/v1/stats/complaints", MANAGER, group_by="day,product")
    out["complaints"] = r.json()["rows"]
    out["sat_am"] = (await get(service, "/api/v1/stats/satisfaction", MANAGER, by="account_manager")).json()["rows"]
    out["sat_product"] = (await get(service, "/api/v1/stats/satisfaction", MANAGER, by="product")).json()["rows"]
    out["opps"] = (await get(service, "/api/v1/stats/opportunities", MANAGER)).json()["rows"]
    out["opps_channel"] = (await get(service, "/api/v1/stats/opportunities", MANAGER, by="channel")).json()["rows"]
    for dept in (DEPT_A, DEPT_B):
        rows = (await get(service, "/api/v1/stats/timeliness", SUPERVISOR, department=dept)).json()["rows"]
        out[f"people-{dept}"] = rows
        rows = (await get(service, "/api/v1/stats/timeliness", SUPERVISOR, by="department",
                          department=dept)).json()["rows"]
        out[f"dept-{dept}"] = rows
    return out


EXPECTED_ORDERS = sorted([
    ("2020-01-06", "dedicated_line_data", "account_manager", 1, 1),
    ("2020-01-06", "ip_transit", "account_manager", 1, 1),
    ("2020-01-06", "dedicated_line_data", "web_portal", 1, 1),
    ("2020-01-07", "dedicated_line_data", "agent", 1, 1),  # 00:30 in Shanghai: the next day
])
PA_ROW = {"group": PA, "department": DEPT_A, "department_name": "A部", "completed": 4, "mean_s": 1275.0,
          # [300, 600, 1800, 2400]: rank 2.7 -> 1800 + 0.7 * 600
          "p90_s": 2220.0, "judged": 3, "on_time": 2, "late": 1, "on_time_pct": 66.67, "breaches": 0,
          "escalations": 0}
PB_ROW = {"group": PB, "department": DEPT_B, "department_name": "B部", "completed": 1, "mean_s": 1200.0,
          "p90_s": 1200.0, "judged": 1, "on_time": 0, "late": 1, "on_time_pct": 0.0, "breaches": 1,
          "escalations": 2}


def check_figures(got: dict[str, Any]) -> bool:
    return (
        got["orders"] == EXPECTED_ORDERS
        and got["complaints"] == [
            {"day": "2020-01-06", "product": "dedicated_line_data", "region": None, "category": None,
             "severity": None, "complaints": 2},
            {"day": "2020-01-06", "product": "generic", "region": None, "category": None, "severity": None,
             "complaints": 1}]
        and got["sat_am"] == [{"group": AM, "revisits": 3, "mean_score": 3.67, "satisfied": 2, "satisfied_pct": 66.67,
                               "score_1": 0, "score_2": 1, "score_3": 0, "score_4": 1, "score_5": 1}]
        and [(r["group"], r["revisits"], r["mean_score"]) for r in got["sat_product"]] == [
            ("dedicated_line_data", 2, 4.5), ("generic", 1, 2.0)]
        and got["opps"] == [{"group": AM, "created": 4, "confirmed": 2, "lost": 1, "open": 1,
                             "conversion_pct": 50.0}]
        and by(got["opps_channel"])["web_portal"]["conversion_pct"] == 100.0
        and by(got["opps_channel"])["account_manager"]["conversion_pct"] == 33.33
        and got[f"people-{DEPT_A}"] == [PA_ROW]
        and got[f"people-{DEPT_B}"] == [PB_ROW]
        and got[f"dept-{DEPT_A}"] == [{**PA_ROW, "group": DEPT_A}]
        and got[f"dept-{DEPT_B}"] == [{**PB_ROW, "group": DEPT_B}]
    )


async def test_figures_equal_hand_computed_values(infra, stats_service, produced) -> None:
    last: dict[str, Any] = {}

    async def ready() -> bool:
        last.clear()
        last.update(await figures(stats_service))
        return check_figures(last)

    try:
        await eventually(ready, timeout_s=120, interval_s=1.0, what="the read model's figures")
    except AssertionError:
        pytest.fail(f"figures differ from the hand-computed ones: {last}")


async def test_csv_and_scopes(stats_service, produced) -> None:
    r = await get(stats_service, "/api/v1/stats/orders", {**SUPERVISOR, "Accept": "text/csv"},
                  group_by="region,channel")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = [row for row in csv.DictReader(io.StringIO(r.text)) if row["region"] == REGION]
    assert {(row["channel"], row["orders"], row["items"]) for row in rows} == {
        ("account_manager", "1", "2"), ("web_portal", "1", "1"), ("agent", "1", "1")}
    r = await get(stats_service, "/api/v1/stats/timeliness", SUPERVISOR, department=DEPT_A, format="csv")
    assert next(iter(csv.DictReader(io.StringIO(r.text))))["p90_s"] == "2220.0"
    # A department head reads their own department; another's is a 404; an account manager, none of it.
    head = token(HEAD, "department_head")
    r = await get(stats_service, "/api/v1/stats/timeliness", head)
    if r.status_code != 403:  # department_head is a token role once issue 13's roles are in the vocabulary
        assert r.status_code == 200 and [x["group"] for x in r.json()["rows"]] == [PA]
        assert (await get(stats_service, "/api/v1/stats/timeliness", head, department=DEPT_B)).status_code == 404
    assert (await get(stats_service, "/api/v1/stats/timeliness", MANAGER)).status_code == 403
    # Another account manager sees none of this run's customers.
    other = (await get(stats_service, "/api/v1/stats/opportunities", token(f"am-other-{RUN}", "account_manager")))
    assert other.status_code == 200 and other.json()["rows"] == []
    # Bad input is a 422 naming the field.
    bad = await get(stats_service, "/api/v1/stats/orders", SUPERVISOR, **{"from": "2020-02-01"})
    assert bad.status_code == 422 and "from" in bad.text
    bad = await get(stats_service, "/api/v1/stats/orders", SUPERVISOR, group_by="planet")
    assert bad.status_code == 422 and "group_by" in bad.text
    assert (await get(stats_service, "/api/v1/stats/orders", {})).status_code == 401


async def test_rebuild_from_offset_zero_gives_the_same_figures(infra, stats_service, produced) -> None:
    await eventually(lambda: _settled(stats_service), timeout_s=120, interval_s=1.0, what="the figures")
    before = await figures(stats_service)
    engine = make_engine(infra.database_url, pool_size=2, schema=metadata.schema)
    try:
        result = await rebuild(make_session_factory(engine, outbox=outbox, source="stats"), infra.kafka_bootstrap)
    finally:
        await engine.dispose()
    assert result.recorded >= len(stream())
    after = await figures(stats_service)
    assert after == before and check_figures(after)


async def _settled(service: ServiceProcess) -> bool:
    return check_figures(await figures(service))

