"""SLA timers under load, on the bench infrastructure (real PostgreSQL + Kafka, the SLA service as a process).

1. Start/stop throughput from Kafka: N `node_entered` then N `node_completed` events produced to
   eoms.tickets; timed from the first send until the SLA service has applied the last one (the last
   event of every partition, then all N checked in its timers table), with the CPU each process tree
   (the SLA service, PostgreSQL, Kafka) used per event. With the service's set-based consumer, then, for
   comparison (unless --no-compare), backbone's runner event by event (100 per transaction, then 1).
2. --open-timers (default 1,000,000; 10,000,000 for the issue's target) open timers generated inside
   PostgreSQL as the rows the service itself writes, then ANALYZE and the plan of the scanner's claim;
   1,000 of them come due per second during a 30 s window, the rest over the next 30 days.
3. Fire lateness (fired − due) of the window's breaches: as recorded by the scanner (alerts.fired_at,
   in the firing transaction) and as seen by a Kafka consumer of sla.alerts (end to end, relay
   included; the consumer reads in a task of its own from before the window's insert), with the steps
   between: handed to the relay's producer (the record's CreateTime), marked sent (outbox.sent_at, after
   the ack); sampled every 0.1 s on a connection of its own (`_watch`): the newest committed and sent
   breach, the wait events of the SLA's backends, autovacuum's progress; the CPU of each process tree.
4. RSS of the SLA process: before the load, with the timers open, peak while firing.

`python -m bench.sla_timers` (about 5 minutes; `--open-timers 10000000` about 15); `--profile PATH` samples
the SLA process with py-spy during the set-based run. Figures printed and in bench/results/sla_timers.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from backbone.envelope import Envelope
from backbone.events import TicketNodeCompleted, TicketNodeEntered
from backbone.kafka import Producer
from backbone.topics import EOMS_TICKETS, SLA_ALERTS
from bench.common import BenchEnv, CpuMeter, percentiles, profiler, top_frames, write_result
from sla.settings import SlaSettings

N_EVENTS = int(os.environ.get("SLA_BENCH_EVENTS", "20000"))  # per kind: N entered + N completed
N_TIMERS = int(os.environ.get("SLA_BENCH_TIMERS", "1000000"))
SCAN_IDLE_S = SlaSettings.model_fields["scan_idle_s"].default  # the scanner's longest sleep (the service's default)
WINDOW_S = 30
RATE = 1000  # timers due per second in the window
POLICY = """
version: bench-1
rules:
  - id: all
    clock: calendar
    limit_minutes: 60
    escalation:
      - {level: 1, notify_role: supervisor, after_minutes: 1440}
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _ctx(ticket_id: str) -> dict[str, Any]:
    return {
        "ticket_id": ticket_id, "ticket_kind": "resource_confirmation", "business_type": "dedicated_line_data.opening",
        "origin": "order", "origin_id": f"ord_{ticket_id}", "customer_id": "cus_bench", "customer_name": "bench",
        "customer_tier": "B", "account_manager_id": "am_bench", "workflow_id": "dedicated_line_data.opening",
        "workflow_version": 1, "node": "resource_check", "role": "network_resource",
    }


async def _count(pool: asyncpg.Pool, sql: str) -> int:
    return int(await pool.fetchval(sql))


async def throughput(bootstrap: str, pool: asyncpg.Pool, n: int, roots: dict[str, int] | None = None,
                     profile: str | None = None) -> dict[str, Any]:
    """Starts then stops of `n` timers from Kafka; with `roots`, the CPU each process tree used per event
    (the figure contention inflates least); with `profile`, py-spy on the SLA process (collapsed stacks,
    `<profile>.<phase>.txt`)."""
    producer = Producer(bootstrap, linger_ms=5)
    await producer.start()
    run = uuid.uuid4().hex[:6]
    tickets = [f"tkt_bench_{run}_{i}" for i in range(n)]
    out: dict[str, Any] = {"events_per_kind": n}
    try:
        for phase, sql in (
            ("start", f"SELECT count(*) FROM sla.timers WHERE ticket_id LIKE 'tkt_bench_{run}_%'"),
            ("stop", f"SELECT count(*) FROM sla.timers WHERE ticket_id LIKE 'tkt_bench_{run}_%' "
                     "AND completed_at IS NOT NULL"),
        ):
            now = datetime.now(UTC)
            payloads = [
                TicketNodeEntered(**_ctx(t), entered_at=now) if phase == "start"
                else TicketNodeCompleted(**_ctx(t), outcome="available", completed_at=now)
                for t in tickets
            ]
            envs = [Envelope.wrap(p, source="bench", subject=t) for p, t in zip(payloads, tickets, strict=True)]
            meter = CpuMeter(roots or {}).start()
            spy = profiler(roots["sla"], f"{profile}.{phase}.txt", 120) if profile and roots else None
            t0 = time.perf_counter()
            futures = [await producer.send(EOMS_TICKETS, e.to_bytes(), key=e.subject.encode()) for e in envs]
            acks = await asyncio.gather(*futures)
            produced_s = time.perf_counter() - t0
            # Each partition is applied in order: once the last event of every partition is applied, all are.
            # Polled on those few tickets (index probes), so polling costs PostgreSQL next to nothing.
            last: dict[int, tuple[int, str]] = {}
            for ack, ticket in zip(acks, tickets, strict=True):
                if ack.offset >= last.get(ack.partition, (-1, ""))[0]:
                    last[ack.partition] = (ack.offset, ticket)
            probe = sql.replace(f"ticket_id LIKE 'tkt_bench_{run}_%'", "ticket_id = ANY($1::text[])")
            lasts = [t for _, t in last.values()]
            while await pool.fetchval(probe, lasts) < len(lasts):
                if time.perf_counter() - t0 > 300:
                    raise RuntimeError(f"{phase}: not all events applied within 300 s")
                await asyncio.sleep(0.02)
            took = time.perf_counter() - t0
            if (applied := await _count(pool, sql)) != n:
                raise RuntimeError(f"{phase}: {applied} of {n} applied after the last of each partition")
            used = meter.stop()
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(30)
            out[phase] = {"seconds": round(took, 2), "events_per_s": round(n / took),
                          "produce_seconds": round(produced_s, 2)}
            if roots:
                out[phase]["cpu_ms_per_event"] = {k: round(1000 * v / n, 3) for k, v in used.items()}
                out[phase]["load_average"] = round(os.getloadavg()[0], 1)
                out[phase]["machine_cpu"] = meter.machine
            print(f"  {phase}: {n} events applied in {took:.2f}s → {n / took:.0f}/s; CPU ms/event "
                  f"{out[phase].get('cpu_ms_per_event')}, machine {out[phase].get('machine_cpu')}", flush=True)
        out["combined_events_per_s"] = round(2 * n / (out["start"]["seconds"] + out["stop"]["seconds"]))
    finally:
        await producer.stop()
    return out


LIMIT_MIN, ESCALATE_AFTER_MIN = 60, 1440  # the bench policy's rule: breach after 60 min, level 1 a day later


def _state_template() -> str:
    """A timer's `state_data` exactly as the service writes it (the domain's own serialisation), with
    placeholders for what differs per timer: @T@ ticket, @S@ start, @D@ deadline, @E@ escalation due."""
    import yaml

    from backbone.vocabulary import Tier
    from sla.domain.policy import parse_policy_set, resolve, snapshot
    from sla.domain.timer import start_timer
    from sla.services.timers import state_columns

    ps = parse_policy_set(yaml.safe_load(POLICY))
    rp = snapshot(ps, resolve(ps, "x.y", "k", "n", Tier.B, "r").rule_id)
    t = start_timer("@T@", "resource_check", rp, datetime(2030, 1, 1, tzinfo=UTC))
    assert [a.key for a in t.schedule] == ["breach", "escalation:1"]
    d = json.loads(state_columns(t)["state_data"])
    d.update(started_at="@S@", anchor_at="@S@", last_event_at="@S@", deadline="@D@", next_fire_at="@D@")
    d["schedule"][0]["due_at"], d["schedule"][1]["due_at"] = "@D@", "@E@"
    return json.dumps(d)


def _iso(ts: str) -> str:
    """SQL for a timestamptz as pydantic writes it (ISO 8601, UTC, "Z")."""
    return f"""to_char(({ts}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


# Open timers generated inside PostgreSQL (no rows through the client: 10M rows in minutes), each the row
# the service writes for a `node_entered` of the bench policy: deadline $3 + i·$4 seconds. Ticket numbers are
# zero-padded, so ids and tickets arrive in index order (appended to the b-trees, as the service's own are
# mostly time-ordered); state_data is the template with its placeholders filled in one pass (format).
_GENERATE = f"""
INSERT INTO sla.timers (id, ticket_id, node, state, ticket_kind, business_type, role, customer_id, customer_name,
                        customer_tier, account_manager_id, policy_version, rule_id, started_at, deadline,
                        next_fire_at, state_data)
SELECT 'tmr_' || t, t, 'resource_check', 'running', 'resource_confirmation', 'dedicated_line_data.opening',
       'network_resource', 'cus_bench', 'bench', 'B', 'am_bench', 'bench-1', 'all',
       d - interval '{LIMIT_MIN} min', d, d,
       format($1, t, {_iso(f"d - interval '{LIMIT_MIN} min'")}, {_iso("d")},
              {_iso(f"d + interval '{ESCALATE_AFTER_MIN} min'")})::jsonb
FROM (SELECT $2 || lpad(i::text, 9, '0') AS t, $3::timestamptz + (i * $4::float8) * interval '1 second' AS d
      FROM generate_series($5::int, $6::int) AS i) AS g
"""
async def bulk_insert(conn: asyncpg.Connection, prefix: str, first: datetime, step_s: float, n: int,
                      chunk: int = 500_000) -> int:
    """`n` open timers `prefix<i>` due at `first + i·step_s`, a transaction per `chunk`; returns the rows inserted."""
    # format() placeholders: %1$s ticket, %2$s start, %3$s deadline, %4$s escalation due.
    template = _state_template().replace("%", "%%")
    for mark, arg in (("@T@", "%1$s"), ("@S@", "%2$s"), ("@D@", "%3$s"), ("@E@", "%4$s")):
        template = template.replace(mark, arg)
    sql = _GENERATE
    inserted = 0
    for s in range(0, n, chunk):
        status = await conn.execute(sql, template, prefix, first, step_s, s, min(n, s + chunk) - 1)
        inserted += int(status.split()[-1])  # "INSERT 0 <rows>"
    return inserted


async def _check_row(conn: asyncpg.Connection, ticket_id: str) -> None:
    """A generated row reads back as the service's own timer (the scanner will load it)."""
    import yaml

    from backbone.vocabulary import Tier
    from sla.domain.policy import parse_policy_set, resolve, snapshot
    from sla.domain.timer import SlaTimer

    ps = parse_policy_set(yaml.safe_load(POLICY))
    rp = snapshot(ps, resolve(ps, "x.y", "k", "n", Tier.B, "r").rule_id)
    row = await conn.fetchrow("SELECT state_data::text AS d, deadline FROM sla.timers WHERE ticket_id = $1", ticket_id)
    t = SlaTimer.model_validate({**json.loads(row["d"]), "policy": rp})
    assert t.deadline == row["deadline"] and t.next_fire_at == row["deadline"], (t, row)


async def _read_alerts(consumer: Any, pid: int, until: datetime, expected: int, seen: dict[str, float],
                       produced: dict[str, float], peak: list[float]) -> None:
    """The window's `sla.breached` records as a consumer of sla.alerts reads them, until `expected` are in or
    `until`: per ticket, arrival − deadline and CreateTime − deadline (seconds); the SLA's peak RSS on the way."""
    while datetime.now(UTC) < until and len(seen) < expected:
        batches = await consumer.getmany(timeout_ms=500, max_records=5000)
        arrived = datetime.now(UTC)
        for msgs in batches.values():
            for m in msgs:
                e = Envelope.model_validate_json(m.value)
                if e.type == "sla.breached" and e.subject.startswith("win_"):
                    deadline = datetime.fromisoformat(e.data["deadline"])
                    seen.setdefault(e.subject, (arrived - deadline).total_seconds())
                    produced.setdefault(e.subject, m.timestamp / 1000 - deadline.timestamp())
        peak[0] = max(peak[0], rss_mb(pid))


async def _watch(database_url: str, start: datetime, until: datetime, every_s: float = 0.1) -> dict[str, Any]:
    """What the window's firing waits on, sampled every `every_s` on a connection of its own: how far behind its
    due time the newest committed breach is (the scanner's commits), the same for the newest breach whose outbox row
    is marked sent (the relay), the wait events of the SLA's backends (scanner, relay) and autovacuum's progress."""
    conn = await asyncpg.connect(database_url)
    commit_lag: list[float] = []
    sent_lag: list[float] = []
    waits: dict[str, int] = {}
    vacuum: dict[str, Any] = {}
    samples = 0
    try:
        while datetime.now(UTC) < until:
            await asyncio.sleep(every_s)
            now = datetime.now(UTC)
            if now < start + timedelta(seconds=1):
                continue
            row = await conn.fetchrow(
                "SELECT (SELECT max(due_at) FROM sla.alerts WHERE action = 'breach') AS committed, "
                # a sent breach's alert by (timer, action) (`ux_sla_alerts_once`; alerts.event_id is not indexed)
                "(SELECT max(a.due_at) FROM sla.outbox o JOIN sla.alerts a ON a.action = 'breach' "
                " AND a.timer_id = convert_from(o.payload, 'UTF8')::json -> 'data' ->> 'timer_id' "
                " WHERE o.sent_at IS NOT NULL AND o.event_type = 'sla.breached' AND o.seq > "
                " (SELECT coalesce(max(seq), 0) - 3000 FROM sla.outbox WHERE sent_at IS NOT NULL)) AS sent")
            if now < until - timedelta(seconds=15):  # while timers come due
                for lags, at in ((commit_lag, row["committed"]), (sent_lag, row["sent"])):
                    lags.append(1000 * (min(now, until - timedelta(seconds=15)) - (at or start)).total_seconds())
            samples += 1
            for r in await conn.fetch(
                    "SELECT backend_type, state, coalesce(wait_event_type || ':' || wait_event, 'cpu') AS w, "
                    "CASE WHEN query LIKE '%outbox%' THEN 'relay' WHEN query LIKE '%sla.timers%' THEN 'scanner' "
                    "ELSE 'other' END AS who FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                    "AND (state = 'active' OR backend_type <> 'client backend')"):
                if r["backend_type"] == "client backend" and r["who"] == "other":
                    continue
                key = f"{r['backend_type']}/{r['who']}/{r['w']}"
                waits[key] = waits.get(key, 0) + 1
            for r in await conn.fetch("SELECT relid::regclass::text AS rel, phase, heap_blks_total, heap_blks_scanned "
                                      "FROM pg_stat_progress_vacuum"):
                seen = vacuum.get(r["rel"], {}).get("in_samples", 0) + 1
                vacuum[r["rel"]] = {"phase": r["phase"], "blocks": r["heap_blks_total"],
                                    "scanned": r["heap_blks_scanned"], "in_samples": seen}
    finally:
        await conn.close()
    return {"samples": samples, "committed_breach_behind_due_ms": percentiles(commit_lag),
            "sent_breach_behind_due_ms": percentiles(sent_lag),
            "wait_samples": dict(sorted(waits.items(), key=lambda kv: -kv[1])), "vacuum": vacuum}


async def firing(database_url: str, bootstrap: str, pid: int, n_timers: int,
                 roots: dict[str, int] | None = None, profile: str | None = None) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer

    conn = await asyncpg.connect(database_url)
    out: dict[str, Any] = {"open_timers": n_timers, "window_s": WINDOW_S, "due_per_s": RATE}
    out["rss_mb_before"] = rss_mb(pid)
    in_window = WINDOW_S * RATE
    far = n_timers - in_window
    t0 = time.perf_counter()
    base = datetime.now(UTC) + timedelta(days=1)
    inserted = await bulk_insert(conn, "far_", base, 30 * 86400 / far, far)
    far_s = time.perf_counter() - t0
    print(f"  {far} far-off timers inserted in {far_s:.1f}s", flush=True)
    await _check_row(conn, "far_000000000")
    # Statistics for the planner after a bulk load (autovacuum would get there, later).
    t1 = time.perf_counter()
    await conn.execute("ANALYZE sla.timers")
    out["analyze_seconds"] = round(time.perf_counter() - t1, 1)
    out["table_size_gb"] = round(await conn.fetchval("SELECT pg_total_relation_size('sla.timers')") / 2**30, 2)
    # The scanner's claim (services/timers.py _CLAIM_DUE) at this size: must stay a range scan of the partial
    # index on next_fire_at, read from its start.
    plan = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id FROM sla.timers "
                            "WHERE next_fire_at <= now() ORDER BY next_fire_at LIMIT 500 FOR UPDATE SKIP LOCKED")
    out["claim_plan"] = [r[0] for r in plan]
    print("  " + "\n  ".join(out["claim_plan"]), flush=True)

    # The bulk load's dirty pages written out before the window (a service gathers its open timers over weeks, not
    # in minutes): without it the checkpoint of the load runs through the window and slows every commit.
    t2 = time.perf_counter()
    await conn.execute("CHECKPOINT")
    out["checkpoint_seconds"] = round(time.perf_counter() - t2, 1)
    consumer = AIOKafkaConsumer(SLA_ALERTS, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="latest")
    await consumer.start()
    await consumer.seek_to_end()
    # The window's rows commit together: the first must not be due before they do (it would count the insert
    # as lateness), so the window opens after twice the time the insert should take at the rate just seen. And
    # they are written here, not by the service's consumer, whose commits wake the scanner: the scanner learns of
    # them at its idle fallback (`SCAN_IDLE_S`), so the window opens at least that long after their commit.
    lead_s = SCAN_IDLE_S + 5 + 2 * in_window * far_s / max(1, far)
    start = datetime.now(UTC) + timedelta(seconds=lead_s)
    end = start + timedelta(seconds=WINDOW_S)
    seen: dict[str, float] = {}  # ticket → arrival at this consumer − deadline (s)
    produced: dict[str, float] = {}  # the record's CreateTime (the relay handing it to its producer) − deadline
    peak = [rss_mb(pid)]
    # The consumer reads from before the window's insert, in a task of its own: nothing this bench does meanwhile
    # delays it. (It used to start after a count(*) of every open timer, which at 10 M, on a cold 13 GB heap
    # without a visibility map, took ~30 s and ran into the window: the first alerts were "late" at Kafka by as
    # long. docs/benchmarks.md, 6.)
    reader = asyncio.create_task(_read_alerts(consumer, pid, end + timedelta(seconds=15), in_window, seen,
                                              produced, peak))
    inserted += await bulk_insert(conn, "win_", start, 1 / RATE, in_window)
    out["window_committed_s_before_first_due"] = round((start - datetime.now(UTC)).total_seconds(), 1)
    if out["window_committed_s_before_first_due"] <= SCAN_IDLE_S:
        raise RuntimeError("the window's timers committed less than SCAN_IDLE_S before the first was due: the "
                           "scanner might not have read them yet and lateness would be the bench's")
    out["insert_seconds"] = round(time.perf_counter() - t0, 1)
    out["rss_mb_at_open"] = rss_mb(pid)
    print(f"  {inserted} open timers inserted; window opens at {start.time()}", flush=True)

    watch = asyncio.create_task(_watch(database_url, start, end + timedelta(seconds=15)))
    meter = CpuMeter(roots or {}).start()
    load_before = os.getloadavg()
    spy = profiler(pid, profile, WINDOW_S + 15) if profile else None
    await reader
    used = meter.stop()
    await consumer.stop()
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)
    out["rss_mb_peak_firing"] = peak[0]
    out["window_load_average"] = [round(load_before[0], 1), round(os.getloadavg()[0], 1)]
    if roots:
        out["window_cpu_s"] = {k: round(v, 2) for k, v in used.items()}
        out["window_cpu_ms_per_alert"] = {k: round(1000 * v / max(1, len(seen)), 3) for k, v in used.items()}
    out["watch"] = await watch
    # Each window alert's way to Kafka, from its deadline (ms): the firing transaction's start (alerts.fired_at),
    # the outbox row's created_at (the same transaction), handed to the relay's producer (the record's CreateTime),
    # marked sent (outbox.sent_at, after the broker's ack), read by this consumer.
    marked = await conn.fetch(
        "SELECT EXTRACT(epoch FROM o.sent_at - a.due_at) * 1000 AS late FROM sla.alerts a JOIN sla.outbox o "
        "USING (event_id) WHERE a.ticket_id LIKE 'win_%' AND a.action = 'breach' AND o.sent_at IS NOT NULL")
    out["relay_marked_sent_lateness_ms"] = percentiles([float(r["late"]) for r in marked])
    out["relay_produced_lateness_ms"] = percentiles([v * 1000 for v in produced.values()])
    rows = await conn.fetch("SELECT EXTRACT(epoch FROM fired_at - due_at) AS late FROM sla.alerts "
                            "WHERE ticket_id LIKE 'win_%' AND action = 'breach'")
    fired = [float(r["late"]) * 1000 for r in rows]
    out["fired"] = len(fired)
    out["fire_lateness_ms"] = percentiles(fired)
    out["kafka_arrival_lateness_ms"] = percentiles([v * 1000 for v in seen.values()])
    dup = await conn.fetchval("SELECT count(*) - count(DISTINCT (timer_id, action)) FROM sla.alerts")
    out["duplicate_firings"] = int(dup)
    out["rss_mb_after"] = rss_mb(pid)
    await conn.close()
    return out


def _restart(env: BenchEnv, **extra: str) -> int:
    p = env.procs["sla"]
    p.stop()
    p.env = {**p.env, **extra}
    p.start(timeout=120)
    return p.proc.pid  # type: ignore[union-attr]


async def run(env: BenchEnv, args: argparse.Namespace) -> dict[str, Any]:
    url = env.infra.database_url.replace("+asyncpg", "")
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    out: dict[str, Any] = {}
    tp: dict[str, Any] = {}
    try:
        if args.parts in ("all", "throughput"):
            # The SLA's consumer applies a partition's run of events set-based (ConsumerRunner apply_run); for
            # comparison, backbone's runner event by event in transactions of 100, and of 1.
            print("throughput (start/stop from Kafka), set-based runs…", flush=True)
            tp["set_based"] = await throughput(env.infra.kafka_bootstrap, pool, args.events, env.cpu_roots(),
                                               args.profile)
            if args.compare:
                print("throughput, backbone runner: event by event, 100 per transaction…", flush=True)
                await asyncio.to_thread(_restart, env, SET_BASED_CONSUMER="false")
                tp["event_by_event_100_per_tx"] = await throughput(env.infra.kafka_bootstrap, pool,
                                                                   max(500, args.events // 10), env.cpu_roots())
                print("throughput, backbone runner: one transaction per event…", flush=True)
                await asyncio.to_thread(_restart, env, CONSUMER_BATCH_SIZE="1")
                tp["one_tx_per_event"] = await throughput(env.infra.kafka_bootstrap, pool,
                                                          max(500, args.events // 20), env.cpu_roots())
            out["throughput"] = tp
    finally:
        await pool.close()
    if args.parts in ("all", "firing"):
        pid = await asyncio.to_thread(_restart, env, SET_BASED_CONSUMER="true", CONSUMER_BATCH_SIZE="100")
        print(f"{args.open_timers} open timers, {RATE}/s due for {WINDOW_S}s…", flush=True)
        out["firing"] = await firing(url, env.infra.kafka_bootstrap, pid, args.open_timers, env.cpu_roots(),
                                     f"{args.profile}.firing.txt" if args.profile else None)
        out["claim_plan"] = out["firing"].pop("claim_plan")  # text lines, beside the table's figures
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=N_EVENTS, help="timers started then stopped (per kind)")
    ap.add_argument("--open-timers", type=int, default=N_TIMERS, help="open timers while firing (e.g. 10000000)")
    ap.add_argument("--parts", choices=("all", "throughput", "firing"), default="all")
    ap.add_argument("--no-compare", dest="compare", action="store_false",
                    help="skip the event-by-event consumers (set-based only)")
    ap.add_argument("--profile", help="py-spy the SLA process during the set-based run: <PROFILE>.<phase>.txt")
    ap.add_argument("--out", default="sla_timers", help="results file name under bench/results/")
    args = ap.parse_args()
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        fh.write(POLICY)
    try:
        env_vars = {"SLA_POLICY_FILE": fh.name, "LOG_LEVEL": "WARNING"}
        with BenchEnv(services=["sla"], env=env_vars) as env:
            result = asyncio.run(run(env, args))
    finally:
        os.unlink(fh.name)
    print(json.dumps(result, indent=2), flush=True)
    if args.profile:
        for phase in ("start", "stop"):
            if os.path.exists(f"{args.profile}.{phase}.txt"):
                print(f"--- py-spy, {phase} (inclusive share of samples)")
                for frame, share in top_frames(f"{args.profile}.{phase}.txt", 40):
                    print(f"{share:5.1f}%  {frame}")
    write_result(args.out, result)


if __name__ == "__main__":
    main()
