"""End-to-end order benchmark: REST POST → CRM outbox → Kafka → EOMS bridge ticket created.

Runs the CRM and the EOMS bridge as real processes on the bench infrastructure (durable
PostgreSQL settings, real Kafka), offers orders at a fixed rate (open loop: a late request is not
allowed to slow the offered load), and reads `eoms.tickets` to time each order to its ticket.

Where the time goes, per order (all clocks are this machine's):
  rest      client send → HTTP 201 (validation, one transaction: order + items + outbox row)
  relay     HTTP 201 → the crm.orders record's timestamp (outbox poll + publish, acks=all)
  consumer  that timestamp → ticket created_at in the bridge (broker fetch + inbox + ticket tx), split in
    to_kafka   the record's timestamp → this benchmark's own consumer received it (the CRM producer's
               sender and the broker's append: the record's timestamp is taken when the relay queues it)
    bridge     received here → ticket created_at (the bridge's fetch, its passes, the transaction's start)

`python -m bench.e2e_orders --rates 100,200 --seconds 15`

A steady window: a warm-up of 4 s at 50 orders/s runs first and is discarded (connection pools, statement
caches, the consumer group's assignment; it ends when its last ticket is in), and at each rate the orders
sent in the first `--skip-seconds` (2 s) are left out of the latency figures (`e2e_ms`, `breakdown_ms`:
the queues are still filling then); they still count for the throughput and the CPU per order, measured
from the first request to the last ticket of the rate. `all_orders_ms` keeps the figures over every order.

The SLA service runs beside them by default (the issue's chain: it starts a timer for every ticket node
the bridge announces), so its CPU is in the CPU per order; `--without-sla` leaves it out (the chain measured
before 2026-12-02 16:00).

Options: `--crm-workers N` (uvicorn workers of the CRM), `--bridge-instances N` (EOMS bridge processes in
one consumer group: the partitions of crm.orders are shared among them), `--profile DIR` (py-spy on the
CRM, its workers included, and on every bridge process during the first measured rate: collapsed stacks
in DIR and the top frames printed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from backbone.envelope import parse_envelope
from backbone.topics import CRM_ORDERS, EOMS_TICKETS
from bench.common import BenchEnv, CpuMeter, percentiles, top_frames, write_result
from bench.http_load import build_post, open_loop


@dataclass
class Sample:
    sent: float
    replied: float | None = None
    status: int | None = None
    order_id: str | None = None
    published: float | None = None
    seen: float | None = None  # the crm.orders record received by the benchmark's consumer
    ticket_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


async def _watch(bootstrap: str, samples: dict[str, Sample], stop: asyncio.Event, ready: asyncio.Event) -> None:
    # Assigned partitions (no group): positioned at the end before the load starts, so none is missed.
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                                fetch_max_wait_ms=100)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in (CRM_ORDERS, EOMS_TICKETS)
               for p in sorted(consumer.partitions_for_topic(t) or await _partitions(consumer, t))]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        ready.set()
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100)
            for msgs in batch.values():
                for m in msgs:
                    env = parse_envelope(m.value)
                    if env.type == "crm.order.submitted":
                        s = samples.setdefault(env.subject, Sample(sent=0))
                        s.published, s.seen = m.timestamp / 1000, time.time()
                    elif env.type == "eoms.ticket.created":
                        s = samples.setdefault(env.data["origin_id"], Sample(sent=0))
                        if s.ticket_at is None:
                            s.ticket_at = datetime.fromisoformat(env.data["created_at"]).timestamp()
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


async def run_load(crm_url: str, token: str, bootstrap: str, rate: float, seconds: float,
                   cpu_roots: dict[str, int] | None = None, skip_seconds: float = 0.0) -> dict[str, Any]:
    samples_by_order: dict[str, Sample] = {}
    stop, ready = asyncio.Event(), asyncio.Event()
    watcher = asyncio.create_task(_watch(bootstrap, samples_by_order, stop, ready))
    await asyncio.wait_for(ready.wait(), 30)
    body = {"customer_id": "cus_tj_port", "channel": "account_manager", "submit": True,
            "items": [{"product": "dedicated_line_data", "business_kind": "opening",
                       "attributes": {"bandwidth_mbps": 100, "a_end_address": "A", "z_end_address": "Z"}}]}
    make = build_post(crm_url, "/api/v1/orders", body, {"Authorization": f"Bearer {token}"})
    # CPU of every process of the chain (CRM and its workers, EOMS bridge, PostgreSQL with its backends,
    # Kafka) from the first request until the last ticket of the window is in: CPU-ms per order.
    meter = CpuMeter(cpu_roots or {}).start()
    load_before = [round(x, 1) for x in os.getloadavg()]
    replies = await open_loop(crm_url, make, rate, seconds)
    for reply in replies:
        if reply.status == 201:
            s = Sample(sent=reply.sent, replied=reply.received, status=reply.status)
            s.order_id = json.loads(reply.body)["id"]
            # The watcher may have seen the events before the reply was parsed here.
            seen = samples_by_order.get(s.order_id)
            if seen is not None:
                s.published, s.seen, s.ticket_at = seen.published, seen.seen, seen.ticket_at
            samples_by_order[s.order_id] = s
    deadline = time.time() + 60
    while time.time() < deadline and any(s.ticket_at is None for s in samples_by_order.values() if s.status):
        await asyncio.sleep(0.2)
    used = meter.stop()
    stop.set()
    await watcher

    ok = [s for s in samples_by_order.values() if s.status == 201]
    done = [s for s in ok if s.ticket_at is not None]
    first = min(s.sent for s in done) if done else 0
    last = max(s.ticket_at or 0.0 for s in done) if done else 0.0
    start = min((r.sent for r in replies), default=0.0)
    steady = [s for s in ok if s.sent >= start + skip_seconds]
    latencies = {name: _latencies(group) for name, group in (("steady", steady), ("all", ok))}
    return {
        "offered_rate_per_s": rate,
        "load_average": {"before": load_before, "after": [round(x, 1) for x in os.getloadavg()]},
        "machine_cpu": meter.machine,
        "offered_seconds": seconds,
        "requests": len(replies),
        "http_201": len(ok),
        "errors": len(replies) - len(ok),
        "statuses": dict(Counter(str(r.status) for r in replies)),
        "tickets_seen": len(done),
        "throughput_orders_per_s": round(len(done) / (last - first), 1) if done and last > first else 0,
        "skip_seconds": skip_seconds,
        **latencies["steady"],
        "all_orders_ms": latencies["all"],
        "cpu_ms_per_order": round(sum(used.values()) * 1000 / max(1, len(done)), 2) if used else None,
        "cpu_ms_per_order_by_process": {k: round(v * 1000 / max(1, len(done)), 2) for k, v in sorted(used.items())},
    }


def _latencies(ok: list[Sample]) -> dict[str, Any]:
    """Per order: end to end, and its stages (rest, relay, consumer), over the orders given."""
    done = [s for s in ok if s.ticket_at is not None]
    e2e = [(s.ticket_at - s.sent) * 1000 for s in done]  # type: ignore[operator]
    rest = [(s.replied - s.sent) * 1000 for s in ok]  # type: ignore[operator]
    relay = [(s.published - s.replied) * 1000 for s in done if s.published]  # type: ignore[operator]
    cons = [(s.ticket_at - s.published) * 1000 for s in done if s.published]  # type: ignore[operator]
    to_kafka = [(s.seen - s.published) * 1000 for s in done if s.published and s.seen]
    bridge = [(s.ticket_at - s.seen) * 1000 for s in done if s.seen]  # type: ignore[operator]
    return {"e2e_ms": percentiles(e2e),
            "breakdown_ms": {"rest": percentiles(rest), "relay": percentiles(relay), "consumer": percentiles(cons),
                             "to_kafka": percentiles(to_kafka), "bridge": percentiles(bridge)}}


async def relay_raw(env: BenchEnv, rows: int = 20000) -> dict[str, Any]:
    """Raw outbox relay speed: pre-written rows, one relay, until all are marked sent."""
    from sqlalchemy import MetaData, text

    from backbone.db import make_engine, outbox_table
    from backbone.envelope import Envelope
    from backbone.events import OrderCancelled
    from backbone.kafka import Producer
    from backbone.outbox import OutboxRelay

    md = MetaData(schema="bench_relay")
    table = outbox_table(md)
    engine = make_engine(env.infra.database_url, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS bench_relay CASCADE"))
        await conn.execute(text("CREATE SCHEMA bench_relay"))
        await conn.run_sync(md.create_all)
        now = datetime.now().astimezone()
        batch = []
        for i in range(rows):
            e = Envelope.wrap(OrderCancelled(order_id=f"o{i % 500}", customer_id="c", reason="bench", cancelled_at=now),
                              source="bench", subject=f"o{i % 500}")
            batch.append({"event_id": e.id, "topic": "crm.orders", "key": e.subject, "event_type": e.type,
                          "payload": e.to_bytes()})
        await conn.execute(table.insert(), batch)
    producer = Producer(env.infra.kafka_bootstrap, linger_ms=5)
    await producer.start()
    relay = OutboxRelay(engine, table, producer, batch_size=1000)
    start = time.perf_counter()
    sent = 0
    while (n := await relay.relay_once()) > 0:
        sent += n
    elapsed = time.perf_counter() - start
    await producer.stop()
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA bench_relay CASCADE"))
    await engine.dispose()
    return {"rows": sent, "seconds": round(elapsed, 2), "events_per_s": round(sent / elapsed, 1)}


def start_extra_bridges(env: BenchEnv, count: int) -> dict[str, int]:
    """`count` more EOMS bridge processes on the bench infrastructure (same consumer group): their pids."""
    from devtools.infra import InfraProfile, free_port
    from devtools.suite import ServiceProcess, spec

    environ = {**env.infra.env(), "ENVIRONMENT": "test", "LOG_LEVEL": "WARNING"}
    logs = InfraProfile.named("bench").data_dir / "logs"
    extra = [ServiceProcess(spec("eoms-bridge"), environ, free_port(), logs / f"eoms-bridge-{i + 2}.log")
             .start(wait=False) for i in range(count)]
    for p in extra:
        p.wait_ready(120)
    env.procs.update({f"eoms-bridge-{i + 2}": p for i, p in enumerate(extra)})
    return {f"eoms-bridge-{i + 2}": p.proc.pid for i, p in enumerate(extra) if p.proc is not None}


def start_profiles(roots: dict[str, int], out_dir: str, seconds: float) -> dict[str, subprocess.Popen[bytes]]:
    """py-spy (collapsed stacks, `--subprocesses`: uvicorn's workers) on each service's process tree."""
    os.makedirs(out_dir, exist_ok=True)
    spy = os.path.join(os.path.dirname(sys.executable), "py-spy")
    return {name: subprocess.Popen(
        [spy, "record", "-p", str(pid), "-d", str(int(seconds)), "-f", "raw", "-r", "200", "--subprocesses",
         "--nonblocking", "-o", os.path.join(out_dir, f"{name}.txt")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for name, pid in roots.items()}


def report_profiles(procs: dict[str, subprocess.Popen[bytes]], out_dir: str) -> None:
    for name, proc in procs.items():
        proc.wait(60)
        path = os.path.join(out_dir, f"{name}.txt")
        if os.path.exists(path):
            print(f"--- py-spy {name} (inclusive share of samples) ---", flush=True)
            for frame, share in top_frames(path, 40):
                print(f"{share:6.1f} %  {frame}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="50,100,150", help="offered orders/s, comma separated")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--crm-workers", type=int, default=2)
    parser.add_argument("--bridge-instances", type=int, default=1, help="EOMS bridge processes (one group)")
    parser.add_argument("--profile", metavar="DIR", help="py-spy the CRM and the bridges during the first rate")
    parser.add_argument("--without-sla", action="store_true",
                        help="run the CRM and the bridge only (the SLA service's CPU not in the figures)")
    parser.add_argument("--no-relay-raw", action="store_true", help="skip the raw relay measurement")
    parser.add_argument("--skip-seconds", type=float, default=2.0,
                        help="orders sent in the first seconds of each rate left out of the latency figures")
    args = parser.parse_args()
    services = ["crm", "eoms-bridge"] + ([] if args.without_sla else ["sla"])
    with BenchEnv(services=services, crm_workers=args.crm_workers) as env:
        if args.bridge_instances > 1:
            start_extra_bridges(env, args.bridge_instances - 1)
        results: dict[str, Any] = {}
        if not args.no_relay_raw:
            results["relay_raw"] = asyncio.run(relay_raw(env))
            print(f"relay raw: {results['relay_raw']}", flush=True)
        # Warm-up (discarded): first requests pay for connection pools, statement caches, validators.
        asyncio.run(run_load(env.url("crm"), env.token("am_zhang", "account_manager"),
                             env.infra.kafka_bootstrap, 50, 4))
        runs = []
        for n, rate in enumerate(float(r) for r in args.rates.split(",")):
            spies = {}
            if args.profile and n == 0:
                roots = {k: v for k, v in env.cpu_roots().items() if k.startswith(("crm", "eoms", "sla"))}
                spies = start_profiles(roots, args.profile, args.seconds)
            res = asyncio.run(run_load(env.url("crm"), env.token("am_zhang", "account_manager"),
                                       env.infra.kafka_bootstrap, rate, args.seconds, env.cpu_roots(),
                                       skip_seconds=args.skip_seconds))
            print(f"rate {rate:>6.0f}/s → {res['throughput_orders_per_s']}/s, e2e {res['e2e_ms']}, "
                  f"breakdown {res['breakdown_ms']}, errors {res['errors']}, CPU-ms/order "
                  f"{res['cpu_ms_per_order']} {res['cpu_ms_per_order_by_process']}, machine {res['machine_cpu']}",
                  flush=True)
            runs.append(res)
            report_profiles(spies, args.profile or "")
        results["runs"] = runs
        results["crm_workers"] = args.crm_workers
        results["bridge_instances"] = args.bridge_instances
        results["services"] = services
    write_result("e2e_orders", results)


if __name__ == "__main__":
    main()
