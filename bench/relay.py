"""The outbox relay alone: publish latency at a steady write rate, and the raw rate.

- latency: writers commit one event per transaction at `--rate` events/s (open loop; after each
  commit a `pg_notify`, as a service whose relay stands by wakes the leader) while a standalone
  relay (`python -m backbone.outbox`, its own process, LISTENing) publishes them; the publish
  latency is the Kafka record's timestamp (taken by the relay's producer at send) minus the
  writer's commit time, and the arrival latency is when this process's consumer received it. CPU per
  event over the window: the relay's process (user and system), PostgreSQL and Kafka (the writers' work
  included in those two); the outbox's WAL bytes per event (the writers' inserts and the relay's mark-sent),
  and the outbox's index scans per event (a fenced read scans the unsent rows' index, a mark-sent the primary key,
  also when it rides on a read).
- raw: 20,000 rows written beforehand, one relay as a service runs it (the leader's pass, default batch
  size and producer), until every row is marked sent; the relay's CPU per event (this process); three
  rounds, the median reported (the first runs on a broker whose JIT is still warming up).

`python -m bench.relay --rate 1000 --seconds 10`
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from aiokafka import AIOKafkaConsumer, TopicPartition

from backbone.envelope import Envelope, parse_envelope
from backbone.events import OrderCancelled
from bench.common import (
    BenchEnv,
    CpuMeter,
    infra_roots,
    percentiles,
    profiler,
    top_frames,
    user_system_s,
    write_result,
)
from devtools.infra import PROJECT_ROOT

SCHEMA = "bench_relay"
TOPIC = "crm.orders"


async def _schema(dsn: str) -> None:
    from sqlalchemy import MetaData, text

    from backbone.db import make_engine, outbox_table

    md = MetaData(schema=SCHEMA)
    outbox_table(md)
    engine = make_engine(dsn, pool_size=1)
    async with engine.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        await conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        await conn.run_sync(md.create_all)
    await engine.dispose()


def _envelope(i: int) -> Envelope:
    now = datetime.now().astimezone()
    subject = f"o{i % 500}"
    return Envelope.wrap(OrderCancelled(order_id=subject, customer_id="c", reason="bench", cancelled_at=now),
                         source="bench", subject=subject)


def _plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def latency(env: BenchEnv, rate: float, seconds: float, writers: int = 8,
                  profile: str | None = None) -> dict[str, Any]:
    dsn = env.infra.database_url
    await _schema(dsn)
    relay = subprocess.Popen(
        [sys.executable, "-m", "backbone.outbox", SCHEMA],
        env={**os.environ, **env.infra.env(), "LOG_LEVEL": "WARNING"}, cwd=PROJECT_ROOT,
    )
    committed: dict[str, float] = {}
    published: dict[str, float] = {}
    arrived: dict[str, float] = {}
    consumer = AIOKafkaConsumer(bootstrap_servers=env.infra.kafka_bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(TOPIC, p) for p in sorted(consumer.partitions_for_topic(TOPIC) or [])]
        if not tps:
            await consumer._client.force_metadata_update()
            tps = [TopicPartition(TOPIC, p) for p in sorted(consumer.partitions_for_topic(TOPIC) or [])]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        stop = asyncio.Event()

        async def watch() -> None:
            while not stop.is_set():
                for msgs in (await consumer.getmany(timeout_ms=100)).values():
                    now = time.time()
                    for m in msgs:
                        eid = str(parse_envelope(m.value).id)
                        published[eid] = m.timestamp / 1000
                        arrived[eid] = now

        watcher = asyncio.create_task(watch())
        pool = await asyncpg.create_pool(_plain_dsn(dsn), min_size=writers, max_size=writers)
        insert = (f"INSERT INTO {SCHEMA}.outbox (event_id, topic, key, event_type, payload)"
                  " VALUES ($1, $2, $3, $4, $5)")
        channel = f"outbox_{SCHEMA}"
        envelopes = [_envelope(i) for i in range(int(rate * seconds))]

        async def write(e: Envelope) -> None:
            async with pool.acquire() as conn:
                async with conn.transaction():
                    await conn.execute(insert, uuid.UUID(str(e.id)), TOPIC, e.subject, e.type, e.to_bytes())
                committed[str(e.id)] = time.time()
                # As a service process whose relay stands by wakes the leader (OutboxRelay.notify_leader).
                await conn.execute(f"BEGIN; SET LOCAL synchronous_commit = off; SELECT pg_notify('{channel}', '');"
                                   " COMMIT")

        # Warm-up: the relay has started, taken the lock, LISTENs and published (not counted).
        for probe in [_envelope(-1) for _ in range(20)]:
            await write(probe)
            deadline = time.time() + 60
            while str(probe.id) not in arrived and time.time() < deadline:
                await asyncio.sleep(0.05)
        committed.clear()
        published.clear()
        arrived.clear()

        async with pool.acquire() as conn:
            before = await _outbox_stats(conn)
        relay_times, relay_switches = user_system_s(relay.pid), _switches(relay.pid)
        meter = CpuMeter({"relay": relay.pid, **infra_roots(env.infra)}).start()
        spy = profiler(relay.pid, profile, seconds)
        start = time.perf_counter()
        tasks = []
        for i, e in enumerate(envelopes):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(write(e)))
        await asyncio.gather(*tasks)
        deadline = time.time() + 30
        while len(arrived) < len(envelopes) and time.time() < deadline:
            await asyncio.sleep(0.1)
        used = meter.stop()
        relay_user, relay_sys = (now - then for now, then in zip(user_system_s(relay.pid), relay_times, strict=True))
        relay_switches = _switches(relay.pid) - relay_switches
        await asyncio.sleep(1.5)  # backends flush their table statistics at most once a second
        async with pool.acquire() as conn:
            after = await _outbox_stats(conn)
        if spy is not None:
            spy.wait(30)
        stop.set()
        await watcher
        await pool.close()
    finally:
        await consumer.stop()
        relay.terminate()
        relay.wait(10)
    pub = [(published[k] - committed[k]) * 1000 for k in committed if k in published]
    arr = [(arrived[k] - committed[k]) * 1000 for k in committed if k in arrived]
    n = max(1, len(pub))
    return {"offered_per_s": rate, "seconds": seconds, "events": len(envelopes), "published": len(pub),
            "publish_ms": percentiles(pub), "arrival_ms": percentiles(arr),
            "relay_cpu_ms_per_event": round(used["relay"] * 1000 / n, 3),
            "relay_user_sys_ms_per_event": [round(relay_user * 1000 / n, 3), round(relay_sys * 1000 / n, 3)],
            "cpu_ms_per_event": {k: round(v * 1000 / n, 3) for k, v in used.items()},
            "relay_wakeups_per_event": round(relay_switches / n, 3),
            "wal_bytes_per_event": round((after["wal"] - before["wal"]) / n),
            "outbox_index_scans_per_event": round((after["idx_scan"] - before["idx_scan"]) / n, 3),
            "hot_updates": after["hot"] - before["hot"], "load": round(os.getloadavg()[0], 1)}


def _switches(pid: int) -> int:
    """A process's voluntary context switches so far (its main thread's and its other threads'): how often it
    blocked, each a wake-up later."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/status") as f:
            total += sum(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt_switches"))
    return total


async def _outbox_stats(conn: Any) -> dict[str, int]:
    """The database's WAL position (bytes) and the outbox table's index scans and HOT updates so far."""
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    row = await conn.fetchrow(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS wal, coalesce(idx_scan, 0) AS idx_scan,"
        " n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'outbox'", SCHEMA)
    return dict(row)


async def raw(env: BenchEnv, rows: int = 20000, rounds: int = 3) -> dict[str, Any]:
    """Raw relay speed: `rounds` times, pre-written rows, one relay as a service runs it (the leader's `step`: lock
    connection, fenced reads, default batch size and producer), until every row is marked sent; with this process's
    CPU. The first round runs on a broker just started (its JIT still compiling): the median round is the figure."""
    from sqlalchemy import MetaData, text

    from backbone.db import make_engine, outbox_table
    from backbone.kafka import Producer
    from backbone.outbox import OutboxRelay

    table = outbox_table(MetaData(schema=SCHEMA))
    runs = []
    for _ in range(rounds):
        await _schema(env.infra.database_url)
        engine = make_engine(env.infra.database_url, pool_size=2)
        batch = []
        for i in range(rows):
            e = _envelope(i)
            batch.append({"event_id": e.id, "topic": TOPIC, "key": e.subject, "event_type": e.type,
                          "payload": e.to_bytes()})
        async with engine.begin() as conn:
            await conn.execute(table.insert(), batch)
            await conn.execute(text(f"ANALYZE {SCHEMA}.outbox"))
        producer = Producer(env.infra.kafka_bootstrap)
        await producer.start()
        await producer.partitions_for(TOPIC)  # metadata first: the clock measures the relay, not the first lookup
        relay = OutboxRelay(engine, table, producer)
        cpu, start = time.process_time(), time.perf_counter()
        while await relay.step() == 0.0:  # a full batch: go on at once (as `Worker.run` does)
            pass
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        await relay.teardown()
        async with engine.connect() as conn:
            unsent = (await conn.execute(text(f"SELECT count(*) FROM {SCHEMA}.outbox WHERE sent_at IS NULL"))).scalar()
        await producer.stop()
        await engine.dispose()
        sent = relay.published_total
        assert unsent == 0 and sent == rows, (unsent, sent)
        runs.append({"seconds": round(elapsed, 2), "events_per_s": round(sent / elapsed, 1),
                     "relay_cpu_us_per_event": round(cpu * 1e6 / sent, 1), "load": round(os.getloadavg()[0], 1)})
    median = sorted(runs, key=lambda r: r["events_per_s"])[len(runs) // 2]
    return {"rows": rows, "batch_size": relay.batch_size, **median, "rounds": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--profile", help="py-spy the relay during the latency window into this file")
    parser.add_argument("--parts", default="raw,latency", help="which parts to run (comma-separated)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    result: dict[str, Any] = {}
    with BenchEnv(services=[]) as env:
        if "raw" in parts:
            result["raw"] = asyncio.run(raw(env))
            print(f"raw: {result['raw']}", flush=True)
        if "latency" in parts:
            result["latency"] = asyncio.run(latency(env, args.rate, args.seconds, profile=args.profile))
            print(f"latency: {result['latency']}", flush=True)
    write_result("relay", result)
    if args.profile:
        for frame, share in top_frames(args.profile):
            print(f"{share:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
