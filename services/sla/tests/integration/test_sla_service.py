"""The SLA service on real PostgreSQL and Kafka, run as real processes.

- a ticket node on real Kafka: warning → breach → escalation 1 → 2, in order, on sla.alerts and on
  the live feed (SSE), then sla.met late when the node completes;
- pause/resume through eoms.ticket.state_changed keeps the remaining time; cancel stops the clock;
- SIGKILL mid-firing and restart: every due action fires exactly once;
- two instances on one database: every action fires exactly once, and both did work;
- the admin API (load / validate / activate, problem+json naming the rule), reports, at-risk;
- the policy lint against the workflow catalog (422 naming a dead rule and what shadows it), explain,
  the matrix export (JSON and CSV) and the coverage report;
- crm.customer.tier_changed: nodes entered after a re-grading time with the new tier, running timers
  keep theirs, a redelivered or replayed change is recorded once;
- the board's reads: the at-risk list with breached/escalated timers, its state, business type and
  region filters and the server's business-time countdown; the live feed's timer_started / sla.met /
  timer_cancelled records with the timer's state; breaches per Shanghai day; GET /api/v1/me and the
  ops status (this process's consumer lag, the dead-letter counts).

Our SLA processes use their own consumer group; the suite's SLA service (when the `suite` fixture
runs in the same session) reads the same events and fires from the same table: the exactly-once
claims hold across all of them, which is what is counted. Ticket ids are unique to each run; the
rules for our product (`slatest`) are part of the suite's short policy, so nothing here changes
which policy the suite's services use.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml

from backbone.auth import issue_token
from backbone.envelope import Envelope
from backbone.events import (
    CustomerTierChanged,
    TicketClosed,
    TicketNodeCompleted,
    TicketNodeEntered,
    TicketStateChanged,
)
from backbone.kafka import Producer
from backbone.settings import DEV_JWT_SECRET
from backbone.topics import CRM_CUSTOMERS, EOMS_TICKETS, SLA_ALERTS
from devtools.infra import free_port, test_profile
from devtools.suite import ServiceProcess, spec
from tests.support.kafka_tools import eventually, read_events

pytestmark = pytest.mark.asyncio(loop_scope="session")

ROOT = Path(__file__).resolve().parents[4]  # the repository
SHORT = ROOT / "tests" / "fixtures" / "sla_policy_short.yaml"
SLATEST_WORKFLOWS = ROOT / "tests" / "fixtures" / "sla_catalog_slatest.yaml"  # for the lint of SHORT's rules
RUN = uuid.uuid4().hex[:8]
SHANGHAI = ZoneInfo("Asia/Shanghai")
PRODUCT = "slatest"  # its rules are in the short policy; tickets are unique per run
ALERT_TYPES = {"sla.warning", "sla.breached", "sla.escalated", "sla.met"}
ADMIN = {"Authorization": "Bearer " + issue_token("sla-admin", ["admin"], secret=DEV_JWT_SECRET)}
STAFF = {"Authorization": "Bearer " + issue_token("noc-1", ["network_staff"], secret=DEV_JWT_SECRET)}
AM = {"Authorization": "Bearer " + issue_token("am_zhang", ["account_manager"], secret=DEV_JWT_SECRET)}


def _sla(infra, name: str, group: str, **env: str) -> ServiceProcess:
    logs = test_profile().data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    full_env = {**infra.env(), "ENVIRONMENT": "test", "SLA_POLICY_FILE": str(SHORT), "CONSUMER_GROUP": group,
                "SLA_WORKFLOW_CATALOG_EXTRA": json.dumps([str(SLATEST_WORKFLOWS)]),
                "CONSUMER_BACKOFF_INITIAL_S": "0.05", "SCAN_INTERVAL_S": "0.05", "STREAM_POLL_S": "0.1",
                "INSTANCE_ID": name, **env}
    return ServiceProcess(spec("sla"), full_env, free_port(), logs / f"{name}.log")


async def caught_up(bootstrap: str, group: str, timeout_s: float = 60) -> None:
    """Wait until `group` has committed everything in eoms.tickets and crm.customers that was there
    when we asked.

    A new consumer group starts from the beginning of the topics (it replays history: no effect, the
    timers exist), and events produced before it caught up would be applied late.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await reader.start()
    await admin.start()
    try:
        # The partitions from the broker (a fresh consumer's partitions_for_topic is None: nothing was awaited).
        topics = await admin.describe_topics([EOMS_TICKETS, CRM_CUSTOMERS])
        tps = [TopicPartition(t["topic"], p["partition"]) for t in topics for p in t["partitions"]]
        assert tps, "no partitions of eoms.tickets / crm.customers known"
        end = await reader.end_offsets(tps)

        async def done() -> bool:
            committed = await admin.list_consumer_group_offsets(group)
            return all(tp in committed and committed[tp].offset >= end[tp] for tp in tps if end[tp] > 0)

        await eventually(done, timeout_s=timeout_s, interval_s=0.3, what=f"consumer group {group} to catch up")
    finally:
        await reader.stop()
        await admin.close()


@pytest.fixture(scope="module")
async def sla(infra) -> AsyncIterator[ServiceProcess]:
    group = f"sla-test-{RUN}"
    proc = _sla(infra, group, group).start(timeout=90)
    try:
        await caught_up(infra.kafka_bootstrap, group)
        yield proc
    finally:
        proc.stop()


def short_policy() -> dict[str, Any]:
    return yaml.safe_load(SHORT.read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
async def policy(sla: ServiceProcess) -> str:
    """The short policy, active (a reused database may have had another version activated)."""
    async with httpx.AsyncClient(base_url=sla.url, timeout=10) as http:
        r = await http.post("/api/v1/policies", headers=ADMIN, json=short_policy())
        assert r.status_code in (200, 201) and r.json()["active"], r.text
        return str(r.json()["version"])


@pytest.fixture(scope="module")
async def producer(infra) -> AsyncIterator[Producer]:
    p = Producer(infra.kafka_bootstrap)
    await p.start()
    yield p
    await p.stop()


def _ctx(ticket_id: str, kind: str, tier: str = "B", node: str = "resource_check",
         region: str | None = f"region-{RUN}") -> dict[str, Any]:
    return {
        "ticket_id": ticket_id, "ticket_kind": "resource_confirmation", "business_type": f"{PRODUCT}.{kind}",
        "origin": "order", "origin_id": f"ord_{ticket_id}", "customer_id": f"cus_{RUN}", "customer_name": "测试港务",
        "customer_tier": tier, "account_manager_id": f"am_{RUN}", "workflow_id": f"{PRODUCT}.{kind}",
        "workflow_version": 1, "node": node, "role": "network_resource", "customer_region": region,
    }


def _closed(ticket_id: str, kind: str) -> TicketClosed:
    ctx = {k: v for k, v in _ctx(ticket_id, kind).items() if k not in ("node", "role")}
    return TicketClosed(**ctx, final_state="cancelled", closed_at=datetime.now(UTC))


async def _send(producer: Producer, payload: Any, ticket_id: str) -> None:
    env = Envelope.wrap(payload, source="test", subject=ticket_id, correlation_id=f"corr-{ticket_id}")
    await producer.send_and_wait(EOMS_TICKETS, env.to_bytes(), key=ticket_id.encode())


async def _enter(producer: Producer, ticket_id: str, kind: str, at: datetime | None = None, **kw: Any) -> None:
    await _send(producer, TicketNodeEntered(**_ctx(ticket_id, kind, **kw), entered_at=at or datetime.now(UTC)),
                ticket_id)


async def _alerts(infra, tickets: set[str]) -> list[Envelope]:
    return [e for e in await read_events(infra.kafka_bootstrap, SLA_ALERTS, types=ALERT_TYPES)
            if e.subject in tickets]


def _tag(e: Envelope) -> str:
    return f"{e.type}:{e.data['level']}" if e.type == "sla.escalated" else e.type


async def test_ticket_flow_warns_breaches_and_escalates_in_order(infra, sla, policy, producer):
    ticket = f"tkt_flow_{RUN}"
    feed: list[dict[str, Any]] = []

    async def listen() -> None:
        async with httpx.AsyncClient(base_url=sla.url, timeout=None) as http, \
                http.stream("GET", "/api/v1/stream", headers=STAFF) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            async for line in r.aiter_lines():
                if line.startswith("data: "):
                    item = json.loads(line[6:])
                    if item["ticket_id"] == ticket:
                        feed.append(item)

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.5)  # the stream starts "now": connect before the first alert
    started = datetime.now(UTC)
    await _enter(producer, ticket, "opening")

    async def four_alerts() -> list[Envelope]:
        got = await _alerts(infra, {ticket})
        return got if len(got) >= 4 else []

    alerts = await eventually(four_alerts, timeout_s=45, what="warning, breach and two escalations")
    assert [_tag(e) for e in alerts] == ["sla.warning", "sla.breached", "sla.escalated:1", "sla.escalated:2"]
    warning, breach, esc1, esc2 = alerts
    assert warning.data["warning_point"] == "25%" and 0 < warning.data["remaining_seconds"] <= 4.5
    assert esc1.data["escalate_to_role"] == "supervisor" and esc2.data["escalate_to_role"] == "department_head"
    deadline = datetime.fromisoformat(breach.data["deadline"])
    assert abs((deadline - started).total_seconds() - 6) < 1.0
    for e in alerts:  # what notify needs, and the chain's correlation id
        assert e.correlation_id == f"corr-{ticket}"
        assert e.data["customer_tier"] == "B" and e.data["role"] == "network_resource"
        assert e.data["account_manager_id"] == f"am_{RUN}" and e.data["policy_version"] == policy
    assert 0 <= breach.data["lateness_seconds"] < 2.5, "fired on time"

    await eventually(lambda: _ready(len(feed) >= 5), timeout_s=5, what="the live feed")
    assert [f["type"] for f in feed] == ["sla.timer_started", "sla.warning", "sla.breached", "sla.escalated",
                                         "sla.escalated"]
    started_item, *_, escalated_item = feed
    assert started_item["data"]["rule_id"] == "slatest.flow"
    assert started_item["data"]["customer_region"] == f"region-{RUN}"
    assert all(f["timer_id"] == started_item["timer_id"] and f["timer"]["id"] == f["timer_id"] for f in feed)
    assert escalated_item["data"]["customer_region"] == f"region-{RUN}"
    board_row = escalated_item["timer"]  # the timer as it stood when the event was sent
    assert board_row["state"] == "escalated" and board_row["clock"] == "calendar" and board_row["clock_running"]
    assert board_row["business_seconds_left"] < 0 and board_row["business_type"] == f"{PRODUCT}.opening"

    await _send(producer, TicketNodeCompleted(**_ctx(ticket, "opening"), outcome="available",
                                              completed_at=datetime.now(UTC)), ticket)
    met = await eventually(lambda: _of(infra, ticket, "sla.met"), what="sla.met")
    assert met[0].data["late"] is True and met[0].data["elapsed_seconds"] > 9
    await eventually(lambda: _ready(len(feed) >= 6), timeout_s=5, what="sla.met on the live feed")
    assert feed[5]["type"] == "sla.met" and feed[5]["event_id"] == str(met[0].id) and feed[5]["data"]["late"]
    listener.cancel()

    async with httpx.AsyncClient(base_url=sla.url, timeout=10) as http:
        timers = (await http.get("/api/v1/timers", params={"ticket_id": ticket}, headers=STAFF)).json()["items"]
        assert len(timers) == 1
        t = timers[0]
        assert t["state"] == "escalated" and t["escalation_level"] == 2 and t["met_late"] is True
        assert t["rule_id"] == "slatest.flow" and t["policy_version"] == policy
        assert [a["key"] for a in t["schedule"]] == ["warning:25%", "breach", "escalation:1", "escalation:2"]
        assert t["used_s"] > 9 and t["remaining_s"] < 0 and t["clock_running"] is False  # closed: stands still
        assert t["customer_region"] == f"region-{RUN}"
        recorded = (await http.get(f"/api/v1/timers/{t['id']}/alerts", headers=STAFF)).json()
        assert [a["action"] for a in recorded] == ["started", "warning:25%", "breach", "escalation:1",
                                                   "escalation:2", "met"]
        r = await http.get("/api/v1/timers", params={"ticket_id": ticket}, headers=AM)
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"

        # The workflow loops back to the node: a new entry, a new timer (the late one stays as it was).
        await _enter(producer, ticket, "opening")

        async def two_timers() -> list[dict[str, Any]]:
            items = (await http.get("/api/v1/timers", params={"ticket_id": ticket}, headers=STAFF)).json()["items"]
            return items if len(items) == 2 else []

        first, second = await eventually(two_timers, timeout_s=10, what="a second timer for the re-entered node")
        assert first["id"] == t["id"] and first["state"] == "escalated" and second["state"] == "running"
        await _send(producer, _closed(ticket, "opening"), ticket)


async def _ready(value: bool) -> bool:
    return value


async def _of(infra, ticket: str, etype: str) -> list[Envelope]:
    return [e for e in await _alerts(infra, {ticket}) if e.type == etype]


async def test_pending_pauses_the_clock_and_cancel_stops_it(infra, sla, policy, producer):
    paused, cancelled, on_time = (f"tkt_{n}_{RUN}" for n in ("pause", "cancel", "ontime"))
    t0 = datetime.now(UTC)
    for t in (paused, cancelled, on_time):
        await _enter(producer, t, "firing", at=t0)
    await asyncio.sleep(1.0)
    pause_at = datetime.now(UTC)
    await _send(producer, TicketStateChanged(**_ctx(paused, "firing"), from_state="in_progress", to_state="pending",
                                             changed_at=pause_at), paused)
    await _send(producer, TicketStateChanged(**_ctx(cancelled, "firing"), from_state="in_progress",
                                             to_state="cancelled", changed_at=pause_at), cancelled)
    await _send(producer, TicketNodeCompleted(**_ctx(on_time, "firing"), outcome="available",
                                              completed_at=pause_at), on_time)

    async def timer(ticket: str) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=sla.url, timeout=10) as http:
            items = (await http.get("/api/v1/timers", params={"ticket_id": ticket}, headers=STAFF)).json()["items"]
            return items[0] if items else {}

    async def is_paused() -> dict[str, Any] | None:
        t = await timer(paused)
        return t if t.get("state") == "paused" else None

    t = await eventually(is_paused, timeout_s=10, what="the timer paused")
    remaining = t["remaining_s_at_pause"]
    assert 1.5 < remaining < 2.1, remaining  # 3 s limit, about 1 s used
    await asyncio.sleep(3.0)  # well past the original deadline: a paused clock does not breach
    assert not await _of(infra, paused, "sla.breached")
    assert (await timer(cancelled))["state"] == "cancelled"

    resumed_at = datetime.now(UTC)
    await _send(producer, TicketStateChanged(**_ctx(paused, "firing"), from_state="pending", to_state="in_progress",
                                             changed_at=resumed_at), paused)
    breach = (await eventually(lambda: _of(infra, paused, "sla.breached"), timeout_s=10, what="breach"))[0]
    deadline = datetime.fromisoformat(breach.data["deadline"])
    assert abs((deadline - resumed_at).total_seconds() - remaining) < 0.05, "remaining time preserved exactly"

    met = await _of(infra, on_time, "sla.met")
    assert met and met[0].data["late"] is False
    await asyncio.sleep(1.0)
    assert not await _of(infra, cancelled, "sla.breached"), "a cancelled ticket never breaches"
    assert not await _of(infra, on_time, "sla.breached")
    # A closed ticket ends what is still running (here: the resumed, breached timer).
    await _send(producer, _closed(paused, "firing"), paused)

    async def closed() -> bool:
        return (await timer(paused)).get("state") == "cancelled"

    await eventually(closed, timeout_s=10, what="cancelled on close")
    async with httpx.AsyncClient(base_url=sla.url, timeout=10) as http:
        for ticket in (paused, cancelled):
            t = await timer(ticket)
            assert t["clock_running"] is False
            recorded = (await http.get(f"/api/v1/timers/{t['id']}/alerts", headers=STAFF)).json()
            assert recorded[0]["type"] == "sla.timer_started" and recorded[-1]["type"] == "sla.timer_cancelled"
            assert recorded[-1]["data"]["ticket_id"] == ticket
        # a replayed feed from the start of this test shows the cancellation with the timer, closed
        r = await http.get("/api/v1/at-risk", params={"ticket_id": [paused, cancelled, on_time],
                                                       "state": "running,warned,breached,escalated,paused"},
                           headers=STAFF)
        assert r.status_code == 200 and r.json()["items"] == [], "closed timers are never on the board"


async def _exactly_once(infra, tickets: set[str], timeout_s: float) -> dict[tuple[str, str], int]:
    """Wait until every ticket has its breach and escalation; distinct envelope ids per (timer, type)."""

    async def complete() -> dict[tuple[str, str], int] | None:
        ids: dict[tuple[str, str], set[uuid.UUID]] = {}
        for e in await _alerts(infra, tickets):
            ids.setdefault((e.data["timer_id"], _tag(e)), set()).add(e.id)
        counts = {k: len(v) for k, v in ids.items()}
        per_type = Counter(tag for _, tag in counts)
        done = per_type["sla.breached"] == len(tickets) and per_type["sla.escalated:1"] == len(tickets)
        return counts if done else None

    counts = await eventually(complete, timeout_s=timeout_s, interval_s=0.5, what="every breach and escalation")
    await asyncio.sleep(1.0)  # a late duplicate would show up now
    return (await complete()) or counts


async def _due_soon(producer: Producer, tickets: list[str], spread_s: float) -> None:
    """Timers whose 3 s limit runs out between 1 s and 1 s + spread_s from now."""
    now = datetime.now(UTC)
    await asyncio.gather(*(
        _enter(producer, t, "firing", at=now - timedelta(seconds=2 - spread_s * i / len(tickets)))
        for i, t in enumerate(tickets)
    ))


async def test_sigkill_while_firing_then_restart_fires_each_action_once(infra, policy, producer):
    group = f"sla-kill-{RUN}"
    proc = _sla(infra, f"sla-kill-{RUN}", group, SCAN_BATCH_SIZE="25").start(timeout=90)
    tickets = [f"tkt_kill_{RUN}_{i}" for i in range(150)]
    try:
        await caught_up(infra.kafka_bootstrap, group)
        await _due_soon(producer, tickets, spread_s=3.0)
        await asyncio.sleep(2.2)  # mid-window: some fired, some not yet
        proc.kill()
        await asyncio.sleep(1.5)  # more come due while it is down
        proc.start(timeout=90)
        counts = await _exactly_once(infra, set(tickets), timeout_s=30)
    finally:
        proc.stop()
    assert counts and all(c == 1 for c in counts.values()), {k: c for k, c in counts.items() if c != 1}
    assert len(counts) == 2 * len(tickets)


async def test_two_instances_on_one_database_fire_each_action_once(infra, policy, producer):
    group = f"sla-pair-{RUN}"
    procs = [_sla(infra, f"sla-pair-{RUN}-{n}", group, SCAN_BATCH_SIZE="10").start(wait=False) for n in (1, 2)]
    try:
        for p in procs:
            p.wait_ready(90)
        await caught_up(infra.kafka_bootstrap, group)
        tickets = [f"tkt_pair_{RUN}_{i}" for i in range(200)]
        await _due_soon(producer, tickets, spread_s=2.0)
        counts = await _exactly_once(infra, set(tickets), timeout_s=30)
        async with httpx.AsyncClient(base_url=procs[0].url, timeout=10) as http:
            firers = Counter()
            for t in tickets[::10]:
                for timer in (await http.get("/api/v1/timers", params={"ticket_id": t},
                                             headers=STAFF)).json()["items"]:
                    for a in (await http.get(f"/api/v1/timers/{timer['id']}/alerts", headers=STAFF)).json():
                        firers[a["fired_by"]] += 1
    finally:
        for p in procs:
            p.stop()
    assert counts and all(c == 1 for c in counts.values()), {k: c for k, c in counts.items() if c != 1}
    assert len(counts) == 2 * len(tickets)
    assert len(firers) >= 2, f"both instances fired some: {firers}"


async def test_policy_admin_api(sla, policy):
    async with httpx.AsyncClient(base_url=sla.url, timeout=10) as http:
        listed = (await http.get("/api/v1/policies", headers=STAFF)).json()
        assert any(p["version"] == policy and p["active"] for p in listed)

        bad = short_policy()
        bad["version"] = f"bad-{RUN}"
        bad["rules"].append({"id": "broken", "limit_minutes": -5, "clock": "calendar"})
        for path in ("/api/v1/policies/validate", "/api/v1/policies"):
            r = await http.post(path, headers=ADMIN, json=bad)
            assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
            body = r.json()
            assert "rule 'broken'" in body["detail"] and body["errors"][0]["field"].startswith("rules.")
        ambiguous = {"version": "x", "rules": [{"id": "a", "limit_minutes": 1, "clock": "calendar"},
                                               {"id": "b", "limit_minutes": 2, "clock": "calendar"}]}
        r = await http.post("/api/v1/policies/validate", headers=ADMIN, json=ambiguous)
        assert r.status_code == 422 and "rule 'b' has the same keys as rule 'a'" in r.json()["detail"]
        r = await http.post("/api/v1/policies/validate", headers={**STAFF, "content-type": "application/yaml"},
                            content=SHORT.read_text())
        assert r.status_code == 200 and r.json()["version"] == policy  # YAML accepted too

        r = await http.post("/api/v1/policies", headers=STAFF, json=short_policy())
        assert r.status_code == 403, "only admins load policies"
        r = await http.post("/api/v1/policies", headers=ADMIN, json=short_policy())
        assert r.status_code == 200 and r.json() == {"version": policy, "created": False, "active": True}
        changed = short_policy()
        changed["rules"][0]["limit_minutes"] = 9
        r = await http.post("/api/v1/policies", headers=ADMIN, json=changed)
        assert r.status_code == 409 and r.json()["errors"][0]["field"] == "version"
        staged = {**short_policy(), "version": f"staged-{RUN}"}
        r = await http.post("/api/v1/policies", headers=ADMIN, json=staged, params={"activate": "false"})
        assert r.status_code == 201 and r.json()["active"] is False
        assert (await http.get("/api/v1/policies/active", headers=STAFF)).json()["version"] == policy
        r = await http.post("/api/v1/policies/nope/activate", headers=ADMIN)
        assert r.status_code == 404


async def test_reports_and_at_risk(infra, sla, policy, producer):
    node = f"node_{RUN}"
    late, on_time, open_ = (f"tkt_rep_{n}_{RUN}" for n in ("late", "ok", "open"))
    now = datetime.now(UTC)
    # One node completed late (entered 10 s ago on a 6 s limit), one on time, one still open.
    await _enter(producer, late, "opening", at=now - timedelta(seconds=10), node=node)
    await _enter(producer, on_time, "opening", at=now - timedelta(seconds=1), node=node, tier="A")
    await _enter(producer, open_, "slow", at=now, node=node)  # catch-all: 3 s
    for t in (late, on_time):
        await _send(producer, TicketNodeCompleted(**_ctx(t, "opening", node=node, tier="A" if t == on_time else "B"),
                                                  outcome="done", completed_at=now), t)
    params = {"group_by": "node", "from": (now - timedelta(minutes=1)).isoformat()}
    async with httpx.AsyncClient(base_url=sla.url, timeout=10) as http:
        at_risk = (await http.get("/api/v1/at-risk", params={"limit": 2}, headers=STAFF)).json()
        assert len(at_risk["items"]) <= 2
        secs = [i["seconds_to_deadline"] for i in at_risk["items"]]
        assert secs == sorted(secs)

        async def report() -> dict[str, Any] | None:
            rows = (await http.get("/api/v1/reports/compliance", params=params, headers=STAFF)).json()["rows"]
            mine = [r for r in rows if r["group"] == node]
            # Both completions applied: the late one may first be judged as an open breach (its deadline passed
            # 4 s before it was entered, so the scanner can fire before its completion is applied).
            return mine[0] if mine and mine[0]["judged"] == 2 and mine[0]["open_breached"] == 0 else None

        row = await eventually(report, timeout_s=10, what="two judged, completed timers")
        assert row["on_time"] == 1 and row["completed_late"] == 1 and row["compliance_pct"] == 50.0
        r = await http.get("/api/v1/reports/compliance", params={**params, "format": "csv", "group_by": "tier"},
                           headers=STAFF)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert {"group", "judged", "on_time", "compliance_pct"} <= set(rows[0])
        times = (await http.get("/api/v1/reports/node-times", params=params, headers=STAFF)).json()["rows"]
        mine = next(t for t in times if t["group"] == node)
        assert mine["completed"] == 2 and 0.5 < mine["p50_s"] <= 10.5 and mine["p90_s"] >= mine["p50_s"]
        r = await http.get("/api/v1/reports/compliance", params={"from": "2030-01-01T00:00:00Z",
                                                                 "to": "2020-01-01T00:00:00Z"}, headers=STAFF)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "from"


async def test_board_reads_breaches_per_day_me_and_ops_status(infra, sla, policy, producer):
    node = f"board_{RUN}"
    late, running, elsewhere = (f"tkt_board_{n}_{RUN}" for n in ("late", "run", "else"))
    now = datetime.now(UTC)
    await _enter(producer, late, "slow", at=now - timedelta(seconds=20), node=node)  # 3 s limit: long breached
    await _enter(producer, running, "opening", at=now, node=node)  # 6 s limit
    await _enter(producer, elsewhere, "opening", at=now, node=node, region=f"north-{RUN}")
    async with httpx.AsyncClient(base_url=sla.url, timeout=10) as http:
        async def board(**params: Any) -> list[dict[str, Any]]:
            r = await http.get("/api/v1/at-risk", params={"node": node, **params}, headers=STAFF)
            assert r.status_code == 200, r.text
            return r.json()["items"]  # type: ignore[no-any-return]

        async def escalated_and_running() -> list[dict[str, Any]]:
            items = await board(region=f"region-{RUN}")
            states = [i["state"] for i in items]
            return items if states[:1] == ["escalated"] and len(items) == 2 else []

        first, second = await eventually(escalated_and_running, timeout_s=15, what="the breached timer escalated")
        assert (first["ticket_id"], second["ticket_id"]) == (late, running), "overdue first, then by deadline"
        assert first["escalation_level"] == 2 and first["business_seconds_left"] < -15
        assert first["rule_id"] == "catch_all" and first["policy_version"] == policy
        assert 0 < second["business_seconds_left"] <= 6 and second["state"] in ("running", "warned")
        for i in (first, second):
            assert i["clock"] == "calendar" and i["clock_running"] is True and i["clock_changes_at"] is None
            assert i["customer_name"] == "测试港务" and i["customer_region"] == f"region-{RUN}"
            assert i["ticket_kind"] == "resource_confirmation" and i["business_type"].startswith(f"{PRODUCT}.")
            assert abs(i["seconds_to_deadline"] - i["business_seconds_left"]) < 1.0  # a 24x7 clock: the same
        assert [i["ticket_id"] for i in await board(state="breached,escalated")] == [late]
        assert [i["ticket_id"] for i in await board(state=["running", "warned"], region=f"region-{RUN}")] == [running]
        assert [i["ticket_id"] for i in await board(region=f"north-{RUN}")] == [elsewhere]
        assert {i["ticket_id"] for i in await board(business_type=PRODUCT)} == {late, running, elsewhere}
        assert {i["ticket_id"] for i in await board(business_type=f"{PRODUCT}.opening")} == {running, elsewhere}
        assert [i["ticket_id"] for i in await board(ticket_id=[late, "tkt_nobody"])] == [late]
        r = await http.get("/api/v1/at-risk", params={"state": "met"}, headers=STAFF)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "state"

        # breaches per Shanghai day: every day of the period listed; per node, this one's breach and escalations
        period = {"from": (now - timedelta(hours=1)).isoformat(), "tz": "Asia/Shanghai"}
        days = (await http.get("/api/v1/reports/breaches", params=period, headers=STAFF)).json()
        assert days["bucket"] == "day" and days["tz"] == "Asia/Shanghai" and days["group_by"] is None
        expected = {(now - timedelta(hours=1)).astimezone(SHANGHAI).date(), now.astimezone(SHANGHAI).date()}
        assert [d["day"] for d in days["rows"]] == sorted(d.isoformat() for d in expected)
        assert sum(d["breached"] for d in days["rows"]) >= 1

        async def per_node() -> dict[str, Any] | None:
            rows = (await http.get("/api/v1/reports/breaches", params={**period, "group_by": "node"},
                                   headers=STAFF)).json()["rows"]
            mine = [r for r in rows if r["group"] == node]
            return mine[0] if mine and mine[0]["escalated"] == 2 else None

        mine = await eventually(per_node, timeout_s=10, what="the node's breach and two escalations")
        assert mine["breached"] == 1 and mine["day"] == now.astimezone(SHANGHAI).date().isoformat()
        r = await http.get("/api/v1/reports/breaches", params={**period, "format": "csv"}, headers=STAFF)
        assert r.status_code == 200 and r.text.splitlines()[0] == "day,group,breached,escalated"
        r = await http.get("/api/v1/reports/breaches", params={**period, "tz": "Mars/Olympus"}, headers=STAFF)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "tz"

        # who the token says the caller is, the same on every service
        me = (await http.get("/api/v1/me", headers=STAFF)).json()
        assert me == {"subject": "noc-1", "name": None, "partner": None, "roles": ["network_staff"], "service": "sla",
                      "node_roles": ["network_staff"]}  # no role covers another (issue 13)
        assert (await http.get("/api/v1/me")).status_code == 401

        # the status page's figures: outbox backlog, this process's consumer lag, the dead-letter topics
        assert (await http.get("/api/v1/ops/status", headers=STAFF)).status_code == 403
        ops = (await http.get("/api/v1/ops/status", headers=ADMIN)).json()
        assert ops["service"] == "sla" and ops["kafka"] == "ok" and ops["outbox"]["pending"] >= 0
        (consumer,) = ops["consumers"]
        assert consumer["group"] == f"sla-test-{RUN}" and set(consumer["topics"]) == {EOMS_TICKETS, CRM_CUSTOMERS}
        assert {p["topic"] for p in consumer["partitions"]} == {EOMS_TICKETS, CRM_CUSTOMERS}
        assert all(p["lag"] == max(0, p["end"] - (p["committed"] or 0)) for p in consumer["partitions"])
        assert consumer["lag"] == sum(p["lag"] for p in consumer["partitions"])
        assert f"{EOMS_TICKETS}.dlq" in {d["topic"] for d in ops["dead_letters"]}


async def test_a_run_of_events_applies_in_order_once_and_survives_poison(infra, sla, policy, producer):
    """Events produced back to back reach the consumer as one run per partition: applied set-based,
    in order, a redelivered event once, and a poison event only costs the fallback path."""
    from backbone.topics import dlq

    a, b = f"tkt_run_a_{RUN}", f"tkt_run_b_{RUN}"
    now = datetime.now(UTC)
    entered_b = Envelope.wrap(TicketNodeEntered(**_ctx(b, "slow"), entered_at=now), source="test", subject=b)
    poison = Envelope.wrap(TicketNodeEntered(**_ctx(a, "slow"), entered_at=now), source="test", subject=a)
    poison.data.pop("customer_tier")  # breaks the payload schema: dead-lettered, the others applied
    batch = [
        (a, TicketNodeEntered(**_ctx(a, "slow"), entered_at=now)),
        (a, poison),
        (a, TicketNodeCompleted(**_ctx(a, "slow"), outcome="done", completed_at=now + timedelta(milliseconds=500))),
        (b, entered_b),
        (b, entered_b),  # a redelivery: same envelope id
        (b, TicketNodeCompleted(**_ctx(b, "slow"), outcome="done", completed_at=now + timedelta(milliseconds=300))),
        (b, TicketNodeCompleted(**_ctx(b, "slow"), outcome="done", completed_at=now + timedelta(milliseconds=400))),
    ]
    futures = []  # sent without waiting for each acknowledgement, so they travel together
    for key, item in batch:
        env = item if isinstance(item, Envelope) else Envelope.wrap(item, source="test", subject=key)
        futures.append(await producer.send(EOMS_TICKETS, env.to_bytes(), key=key.encode()))
    await asyncio.gather(*futures)

    async def both_met() -> list[Envelope]:
        met = [e for e in await _alerts(infra, {a, b}) if e.type == "sla.met"]
        return met if {e.subject for e in met} == {a, b} else []

    met = await eventually(both_met, timeout_s=15, what="sla.met for both tickets")
    await asyncio.sleep(1.0)
    met = [e for e in await _alerts(infra, {a, b}) if e.type == "sla.met"]
    assert sorted(e.subject for e in met) == sorted([a, b]), "one sla.met per ticket"
    assert all(e.data["late"] is False for e in met)
    assert {e.subject: e.data["elapsed_seconds"] for e in met} == {a: 0.5, b: 0.3}
    dead = await read_events(infra.kafka_bootstrap, dlq(EOMS_TICKETS))
    assert poison.id in {e.id for e in dead}


DEFAULT_POLICY = ROOT / "services" / "sla" / "sla" / "policies" / "default.yaml"


async def test_policy_lint_explain_matrix_and_coverage(sla, policy):
    from sla.domain.explain import CSV_COLUMNS

    default = yaml.safe_load(DEFAULT_POLICY.read_text())
    staged = {**default, "version": f"default-{RUN}"}
    async with httpx.AsyncClient(base_url=sla.url, timeout=20) as http:
        # A rule that can never win, and one naming a node no workflow has: refused, each named.
        dead = {**staged, "version": f"dead-{RUN}", "rules": [
            *staged["rules"],
            {"id": "opening.any_tier", "ticket_kind": "service_opening", "limit_minutes": 600},
            {"id": "ghost", "node": "no_such_node", "limit_minutes": 5},
        ]}
        n = len(staged["rules"])
        for path in ("/api/v1/policies/validate", "/api/v1/policies"):
            r = await http.post(path, headers=ADMIN, json=dead)
            assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
            errors = r.json()["errors"]
            assert [(e["field"], e["rule_id"]) for e in errors] == [(f"rules.{n}", "opening.any_tier"),
                                                                    (f"rules.{n + 1}", "ghost")]
            assert errors[0]["shadowed_by"] in {rule["id"] for rule in staged["rules"]}
            assert "never wins" in errors[0]["message"] and "names node 'no_such_node'" in errors[1]["message"]
        assert (await http.get(f"/api/v1/policies/dead-{RUN}", headers=STAFF)).status_code == 404

        r = await http.post("/api/v1/policies/validate", headers=STAFF, json=staged)
        assert r.status_code == 200 and r.json()["nodes_at_catch_all"] == 0 and r.json()["catalog_nodes"] > 300
        r = await http.post("/api/v1/policies", headers=ADMIN, json=staged, params={"activate": "false"})
        assert r.status_code == 201 and r.json()["active"] is False
        version = staged["version"]

        r = await http.get(f"/api/v1/policies/{version}/explain", headers=STAFF, params={
            "business_type": "dedicated_line_data.complaint", "ticket_kind": "complaint_fault",
            "node": "fault_repair", "tier": "A"})
        assert r.status_code == 200, r.text
        ex = r.json()
        assert ex["query"]["role"] == "field_engineer" and ex["in_catalog"] is True  # the catalog's role
        assert ex["winner"]["rule_id"] == "dl_data.fault_repair.tier_a" and ex["winner"]["clock"] == "calendar"
        assert ex["precedence"] == ["node", "business_type", "ticket_kind", "customer_tier", "role"]
        beaten = {b["rule_id"]: b for b in ex["beaten"]}
        assert set(beaten) == {"dl_data.fault.tier_a", "complaint.tier_a"}
        assert beaten["dl_data.fault.tier_a"]["why"].startswith("the winner names the node")
        assert beaten["dl_data.fault.tier_a"]["specificity"] == {"node": 0, "business_type": 1, "ticket_kind": 1,
                                                                 "customer_tier": 1, "role": 0}
        r = await http.get(f"/api/v1/policies/{version}/explain", headers=STAFF, params={
            "business_type": "vpmn.opening", "ticket_kind": "service_opening", "node": "nowhere", "tier": "B"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "role"
        r = await http.get("/api/v1/policies/nope/explain", headers=STAFF, params={
            "business_type": "vpmn.opening", "ticket_kind": "service_opening", "node": "x", "tier": "B", "role": "r"})
        assert r.status_code == 404
        assert (await http.get(f"/api/v1/policies/{version}/matrix", headers=AM)).status_code == 403

        matrix = (await http.get(f"/api/v1/policies/{version}/matrix", headers=STAFF)).json()
        assert matrix["policy_version"] == version and len(matrix["rows"]) == matrix["catalog_nodes"] > 300
        row = next(x for x in matrix["rows"] if (x["business_type"], x["node"]) == (
            "dedicated_line_internet.complaint", "fault_repair"))
        assert {t: c["limit_minutes"] for t, c in row["tiers"].items()} == {"A": 240, "B": 480, "C": 720}
        assert row["node_title"] == "故障处理" and row["tiers"]["A"]["calendar"] == "24x7"
        assert row["tiers"]["A"]["escalation"][0] == {"level": 1, "notify_role": "supervisor", "after_minutes": 0}
        r = await http.get(f"/api/v1/policies/{version}/matrix", headers=STAFF, params={"format": "csv"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        lines = list(csv.DictReader(io.StringIO(r.text)))
        assert tuple(lines[0]) == CSV_COLUMNS and len(lines) == 3 * matrix["catalog_nodes"]
        assert all(line["rule_id"] and line["limit_minutes"] for line in lines)

        cov = (await http.get(f"/api/v1/policies/{version}/coverage", headers=STAFF)).json()
        assert cov["dead_rules"] == [] and cov["unmatched"] == [] and cov["at_catch_all"] == []
        assert cov["tier_order"] == [] and sum(cov["wins_by_rule"].values()) == cov["queries"]
        active = (await http.get("/api/v1/policies/active/coverage", headers=STAFF)).json()
        assert active["policy_version"] == policy and active["dead_rules"] == []
        assert len(active["at_catch_all"]) > 300  # the short policy: a catch-all (and tier A) for everything


async def _customer_rows(infra, customer: str) -> int:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(infra.database_url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM sla.customer_tiers WHERE customer_id = :c"),
                                           {"c": customer})).scalar_one())
    finally:
        await engine.dispose()


async def test_a_tier_change_times_new_nodes_with_the_new_tier_and_running_timers_keep_theirs(
        infra, sla, policy, producer):
    customer = f"cus_tier_{RUN}"
    running, later = f"tkt_tier_run_{RUN}", f"tkt_tier_new_{RUN}"
    t0 = datetime.now(UTC)

    def ctx(ticket: str) -> dict[str, Any]:
        return {**_ctx(ticket, "slow", tier="B"), "customer_id": customer}  # the tickets' copy says B

    async def timer_of(http: httpx.AsyncClient, ticket: str) -> dict[str, Any] | None:
        items = (await http.get("/api/v1/timers", params={"ticket_id": ticket}, headers=STAFF)).json()["items"]
        return items[0] if items else None

    async with httpx.AsyncClient(base_url=sla.url, timeout=10) as http:
        await _send(producer, TicketNodeEntered(**ctx(running), entered_at=t0), running)
        first = await eventually(lambda: timer_of(http, running), timeout_s=15, what="the running timer")
        assert first["rule_id"] == "catch_all" and first["customer_tier"] == "B"

        change = CustomerTierChanged(customer_id=customer, old_tier="B", new_tier="A", score=91.5, key=False,
                                     account_manager_id=f"am_{RUN}", changed_at=t0 + timedelta(milliseconds=500))
        env = Envelope.wrap(change, source="crm", subject=customer)
        replay = Envelope.wrap(change, source="crm", subject=customer)  # a new envelope, the same change
        for e in (env, env, replay):  # a redelivery and a replay
            await producer.send_and_wait(CRM_CUSTOMERS, e.to_bytes(), key=customer.encode())

        async def recorded() -> bool:
            return await _customer_rows(infra, customer) == 1

        await eventually(recorded, timeout_s=20, what="the re-grading recorded")
        await _send(producer, TicketNodeEntered(**ctx(later), entered_at=t0 + timedelta(seconds=1)), later)
        second = await eventually(lambda: timer_of(http, later), timeout_s=15, what="the new node's timer")
        assert second["rule_id"] == "tier_a" and second["customer_tier"] == "A"
        assert (await timer_of(http, running))["rule_id"] == "catch_all"  # the running timer kept its rule
        await asyncio.sleep(0.5)
        assert await _customer_rows(infra, customer) == 1
    for t in (running, later):
        await _send(producer, _closed(t, "slow"), t)
