"""The set-based statements of a run (services/timers.py: `_START`, `_LOCK_OPEN`, `_INSERT_ALERTS`,
`_SAVE_MANY`) on real PostgreSQL, called as the consumer's applier calls them: a run of entries is one
statement, a run of completions four; replays and entries of a node whose timer is open start nothing,
every started timer has exactly one feed record, every completion one `sla.met` (recorded and in the
outbox, after the actions that were due at the completion), and the stored timer reads back as the domain
built it. Tickets of the product `slatest` (the short policy's rules), unique per run."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic_core import to_json
from sqlalchemy import select, text

from backbone.db import make_engine, make_session_factory
from backbone.events import TicketNodeCompleted, TicketNodeEntered
from backbone.vocabulary import Tier
from sla.domain import timer as domain
from sla.models import alerts, outbox, timers
from sla.services import policies
from sla.services.policies import PolicyCatalog
from sla.services.timers import _ROW, _STARTED_KEYS, cancel_ticket, complete_timers, load_timer, start_timers
from sla.workflow_catalog import DEFAULT_CATALOG_PATH, load_node_catalog

pytestmark = pytest.mark.asyncio(loop_scope="session")

ROOT = Path(__file__).resolve().parents[4]
SHORT = ROOT / "tests" / "fixtures" / "sla_policy_short.yaml"
SLATEST_WORKFLOWS = ROOT / "tests" / "fixtures" / "sla_catalog_slatest.yaml"
RUN = uuid.uuid4().hex[:8]


def _ctx(ticket_id: str) -> dict[str, Any]:
    return {
        "ticket_id": ticket_id, "ticket_kind": "resource_confirmation", "business_type": "slatest.opening",
        "origin": "order", "origin_id": f"ord_{ticket_id}", "customer_id": f"cus_{RUN}", "customer_name": "测试港务",
        "customer_tier": "B", "account_manager_id": f"am_{RUN}", "workflow_id": "slatest.opening",
        "workflow_version": 1, "node": "resource_check", "role": "network_resource", "customer_region": "r1",
    }


async def test_runs_of_starts_and_stops_apply_once_each(infra: Any) -> None:
    engine = make_engine(infra.database_url, pool_size=2)
    sf = make_session_factory(engine, outbox=outbox, source="sla")
    catalog = PolicyCatalog()
    a, b, late = f"tkt_runs_{RUN}_a", f"tkt_runs_{RUN}_b", f"tkt_runs_{RUN}_late"
    tickets = [a, b, late]
    try:
        async with sf() as session, session.begin():
            # The suite's short policy (a no-op when it is stored already; never switches the active one).
            await policies.seed_from_file(session, SHORT, load_node_catalog(DEFAULT_CATALOG_PATH, (SLATEST_WORKFLOWS,)))
            version = await policies.active_version(session)
        assert version is not None
        t0 = datetime.now(UTC).replace(microsecond=0)
        long_ago = t0 - timedelta(hours=1)  # its deadline and escalations are all past
        entries = [
            (TicketNodeEntered(**_ctx(a), entered_at=t0), "corr-a"),
            (TicketNodeEntered(**_ctx(a), entered_at=t0), "corr-a"),  # a replay: same ticket, node and time
            (TicketNodeEntered(**_ctx(b), entered_at=t0), "corr-b"),
            (TicketNodeEntered(**_ctx(a), entered_at=t0 + timedelta(seconds=1)), "corr-a2"),  # node still open
            (TicketNodeEntered(**_ctx(late), entered_at=long_ago), None),
        ]
        async with sf() as session, session.begin():
            assert await start_timers(session, catalog, entries, "test-runs") == 3

        async with sf() as session:
            rows = {r.ticket_id: r for r in (await session.execute(
                select(*_ROW, timers.c.started_at, timers.c.deadline, timers.c.next_fire_at, timers.c.state)
                .where(timers.c.ticket_id.in_(tickets)))).all()}
            assert set(rows) == set(tickets)
            assert rows[a].started_at == t0 and rows[a].correlation_id == "corr-a"
            for ticket, entered in ((a, t0), (b, t0), (late, long_ago)):
                row = rows[ticket]
                rule = await catalog.rule_for(session, version, "slatest.opening", "resource_confirmation",
                                              "resource_check", Tier.B, "network_resource")
                expected = domain.start_timer(ticket, "resource_check",
                                              await catalog.resolved(session, version, rule), entered)
                assert await load_timer(session, catalog, row) == expected  # state_data reads back as built
                assert (row.deadline, row.next_fire_at, row.state) == (
                    expected.deadline, expected.next_fire_at, "running")
            feed = (await session.execute(select(alerts.c.timer_id, alerts.c.data).where(
                alerts.c.ticket_id.in_(tickets), alerts.c.event_type == "sla.timer_started"))).all()
            assert sorted(f.timer_id for f in feed) == sorted(r.id for r in rows.values())
            for f in feed:
                row = next(r for r in rows.values() if r.id == f.timer_id)
                assert f.data["ticket_id"] == row.ticket_id and f.data["rule_id"] == row.rule_id
                assert datetime.fromisoformat(f.data["deadline"]) == row.deadline

        done_at = t0 + timedelta(seconds=1)
        completions = [
            TicketNodeCompleted(**_ctx(late), outcome="done", completed_at=done_at),
            TicketNodeCompleted(**_ctx(a), outcome="done", completed_at=done_at),
            TicketNodeCompleted(**_ctx(a), outcome="done", completed_at=done_at),  # again: nothing more
            TicketNodeCompleted(**_ctx(b), outcome="done", completed_at=done_at),
            TicketNodeCompleted(**_ctx(f"tkt_runs_{RUN}_none"), outcome="done", completed_at=done_at),  # no timer
        ]
        async with sf() as session, session.begin():
            await complete_timers(session, catalog, completions, "test-runs")

        async with sf() as session:
            state = {r.ticket_id: r for r in (await session.execute(
                select(timers.c.ticket_id, timers.c.state, timers.c.completed_at, timers.c.met_late,
                       timers.c.next_fire_at, timers.c.elapsed_s).where(timers.c.ticket_id.in_(tickets)))).all()}
            assert state[a].state == "met" and state[a].met_late is False and state[a].completed_at == done_at
            assert state[a].elapsed_s == 1.0 and state[a].next_fire_at is None
            assert state[late].met_late is True and state[late].state == "escalated"
            recorded = (await session.execute(select(alerts.c.ticket_id, alerts.c.action).where(
                alerts.c.ticket_id.in_(tickets), alerts.c.event_type != "sla.timer_started"))).all()
            assert sorted((r.ticket_id, r.action) for r in recorded) == sorted(
                [(a, "met"), (b, "met"), (late, "breach"), (late, "escalation:1"), (late, "escalation:2"),
                 (late, "met")])
            published = [(r.key, json.loads(r.payload)["type"]) for r in (await session.execute(
                select(outbox.c.key, outbox.c.payload).where(outbox.c.key.in_(tickets)).order_by(outbox.c.seq)
            )).all()]
            # Per ticket in firing order, the completion last; the warning due with the breach is superseded.
            assert [t for k, t in published if k == late] == [
                "sla.breached", "sla.escalated", "sla.escalated", "sla.met"]
            assert [t for k, t in published if k in (a, b)] == ["sla.met", "sla.met"]
            # A completion's alert row (written from its outbox row, in the same statement): its event's id, type,
            # subject and data, recorded at the run's time by the consumer, after the alerts fired with it.
            envelopes = {json.loads(r.payload)["id"]: json.loads(r.payload) for r in (await session.execute(
                select(outbox.c.payload).where(outbox.c.key.in_(tickets), outbox.c.event_type == "sla.met"))).all()}
            met = (await session.execute(select(alerts).where(
                alerts.c.ticket_id.in_(tickets), alerts.c.action == "met").order_by(alerts.c.id))).all()
            assert sorted(str(r.event_id) for r in met) == sorted(envelopes)
            for r in met:
                env = envelopes[str(r.event_id)]
                assert (r.event_type, r.ticket_id, r.timer_id, r.data) == (
                    "sla.met", env["subject"], env["data"]["timer_id"], env["data"])
                assert r.fired_by == "test-runs" and r.due_at is None and r.fired_at == met[0].fired_at
            late_actions = (await session.execute(select(alerts.c.action).where(
                alerts.c.ticket_id == late, alerts.c.event_type != "sla.timer_started").order_by(alerts.c.id)
            )).scalars().all()
            assert late_actions[-1] == "met"
    finally:
        await engine.dispose()


async def test_runs_apply_in_a_translated_schema(infra: Any) -> None:
    """The set-based statements are SQLAlchemy constructs: an engine's `schema_translate_map` sends a run of
    starts, a run of stops and a cancellation to a copy of the SLA's tables, and nothing to `sla.*`."""
    schema = f"sla_tr_{RUN}"
    base = make_engine(infra.database_url, pool_size=2)
    async with base.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {schema}"))
        for table in ("policy_versions", "timers", "alerts", "customer_tiers", "outbox", "inbox"):
            await conn.execute(text(f"CREATE TABLE {schema}.{table} (LIKE sla.{table} INCLUDING ALL)"))
    engine = base.execution_options(schema_translate_map={"sla": schema})
    sf = make_session_factory(engine, outbox=outbox, source="sla")  # type: ignore[arg-type]
    catalog = PolicyCatalog()
    a, b, gone = f"tkt_tr_{RUN}_a", f"tkt_tr_{RUN}_b", f"tkt_tr_{RUN}_gone"
    t0 = datetime.now(UTC).replace(microsecond=0)
    try:
        async with sf() as session, session.begin():
            await policies.seed_from_file(session, SHORT, load_node_catalog(DEFAULT_CATALOG_PATH, (SLATEST_WORKFLOWS,)))
        async with sf() as session, session.begin():
            entries = [(TicketNodeEntered(**_ctx(t), entered_at=t0), f"corr-{t}") for t in (a, b, gone)]
            assert await start_timers(session, catalog, [*entries, entries[0]], "test-tr") == 3
        async with sf() as session, session.begin():
            await complete_timers(session, catalog, [
                TicketNodeCompleted(**_ctx(t), outcome="done", completed_at=t0 + timedelta(seconds=1)) for t in (a, b)
            ], "test-tr")
            assert await cancel_ticket(session, catalog, ticket_id=gone, at=t0 + timedelta(seconds=1)) == 1

        async with base.connect() as conn:
            rows = (await conn.execute(text(
                f"SELECT ticket_id, state FROM {schema}.timers ORDER BY ticket_id"))).all()
            assert [tuple(r) for r in rows] == [(a, "met"), (b, "met"), (gone, "cancelled")]
            recorded = (await conn.execute(text(
                f"SELECT ticket_id, action FROM {schema}.alerts ORDER BY ticket_id, action"))).all()
            assert [tuple(r) for r in recorded] == [
                (a, "met"), (a, "started"), (b, "met"), (b, "started"), (gone, "cancelled"), (gone, "started")]
            published = (await conn.execute(text(f"SELECT key FROM {schema}.outbox ORDER BY seq"))).scalars().all()
            assert published == [a, b]  # the two sla.met
            in_sla = (await conn.execute(text(
                "SELECT (SELECT count(*) FROM sla.timers WHERE ticket_id LIKE :p) "
                "+ (SELECT count(*) FROM sla.alerts WHERE ticket_id LIKE :p) "
                "+ (SELECT count(*) FROM sla.outbox WHERE key LIKE :p)"), {"p": f"tkt_tr_{RUN}_%"})).scalar_one()
            assert in_sla == 0
    finally:
        async with base.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await base.dispose()


async def test_a_started_feed_record_is_the_json_of_its_timer_row(infra: Any) -> None:
    """`sla.timer_started`'s data, built in the start statement from the row's columns (`_feed_data`), is the JSON
    the service used to serialise per start: `{"timer_id": id, **{k: row[k] for k in _STARTED_KEYS}}` with
    pydantic's times ("Z"; microseconds or none), nulls kept."""
    engine = make_engine(infra.database_url, pool_size=2)
    sf = make_session_factory(engine, outbox=outbox, source="sla")
    catalog = PolicyCatalog()
    whole, fraction = f"tkt_feed_{RUN}_whole", f"tkt_feed_{RUN}_fraction"
    t0 = datetime.now(UTC).replace(microsecond=0)
    try:
        async with sf() as session, session.begin():
            await policies.seed_from_file(session, SHORT, load_node_catalog(DEFAULT_CATALOG_PATH, (SLATEST_WORKFLOWS,)))
        async with sf() as session, session.begin():
            assert await start_timers(session, catalog, [
                (TicketNodeEntered(**_ctx(whole), entered_at=t0), None),
                (TicketNodeEntered(**{**_ctx(fraction), "customer_region": None, "assignee": "u\"1"},
                                   entered_at=t0.replace(microsecond=120)), "corr"),
            ], "test-feed") == 2
        async with sf() as session:
            rows = {r.id: r for r in (await session.execute(
                select(*_ROW, timers.c.started_at, timers.c.deadline)
                .where(timers.c.ticket_id.in_([whole, fraction])))).all()}
            feed = (await session.execute(select(alerts.c.timer_id, alerts.c.data).where(
                alerts.c.ticket_id.in_([whole, fraction]), alerts.c.event_type == "sla.timer_started"))).all()
        assert sorted(f.timer_id for f in feed) == sorted(rows)
        for f in feed:
            row = rows[f.timer_id]
            assert f.data == json.loads(to_json({"timer_id": row.id, **{k: getattr(row, k) for k in _STARTED_KEYS}}))
        texts = {f.data["ticket_id"]: (f.data["started_at"], f.data["assignee"], f.data["customer_region"])
                 for f in feed}
        assert texts[whole][0] == t0.isoformat().replace("+00:00", "Z")
        assert texts[fraction] == (t0.replace(microsecond=120).isoformat().replace("+00:00", "Z"), 'u"1', None)
    finally:
        async with sf() as session, session.begin():
            await session.execute(alerts.delete().where(alerts.c.ticket_id.in_([whole, fraction])))
            await session.execute(timers.delete().where(timers.c.ticket_id.in_([whole, fraction])))
        await engine.dispose()
