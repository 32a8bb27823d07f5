"""EOMS bridge throughput: tickets created/s from `crm.order.submitted`, node transitions/s over REST.

1. N order events are produced to crm.orders while no bridge consumes them; then a bridge
   process with consumers starts and we time until every ticket exists (DB timestamps: first to
   last ticket, plus wall time from the consumer's readiness).
2. M tickets are claimed (accept) and then completed (complete → next node) over REST with C
   requests in flight; each call is one node transition (row lock, snapshot, history, outbox).

`python -m bench.eoms_tickets [N] [M] [C]`

3. `python -m bench.eoms_tickets --rates 100,300 [--seconds 15] [--profile DIR]`: instead of 1 and 2, the bridge
   at a steady offered rate (open loop: `crm.order.submitted` produced at R/s while the bridge consumes), the
   CPU-ms per order of the bridge, PostgreSQL and Kafka from the first event to the last ticket (the CRM's share
   of issue 16's chain left out: `bench.e2e_orders` measures it), and the produce -> ticket latency.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from backbone.envelope import Envelope
from backbone.events import OrderItem, OrderSubmitted
from backbone.ids import new_id
from backbone.kafka import Producer
from backbone.topics import CRM_ORDERS
from bench.common import BenchEnv, CpuMeter, percentiles, write_result
from devtools.infra import InfraProfile, free_port
from devtools.suite import ServiceProcess, spec


def _order(i: int) -> Envelope:
    o = OrderSubmitted(
        order_id=new_id("ord"), channel="account_manager", submitted_at=datetime.now(UTC),
        customer_id=f"cus_bench_{i % 50}", customer_name="bench customer", customer_tier="ABC"[i % 3],  # type: ignore[arg-type]
        account_manager_id="am_bench",
        items=[OrderItem(item_id=new_id("itm"), product="dedicated_line_data", business_kind="opening",
                         business_type="dedicated_line_data.opening")],
    )
    return Envelope.wrap(o, source="crm", subject=o.order_id)


async def _produce(bootstrap: str, n: int) -> float:
    producer = Producer(bootstrap, client_id="bench-eoms")
    await producer.start()
    started = time.perf_counter()
    try:
        futures = []
        for i in range(n):
            e = _order(i)
            futures.append(await producer.send(CRM_ORDERS, e.to_bytes(), key=e.subject.encode()))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def _count(engine: Any) -> int:
    async with engine.connect() as c:
        return int((await c.execute(text("SELECT count(*) FROM eoms.tickets"))).scalar_one())


async def _transitions(url: str, token: str, ids: list[str], action: str, concurrency: int,
                       body: dict[str, Any] | None = None) -> dict[str, Any]:
    sem = asyncio.Semaphore(concurrency)
    lat: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        async def one(tid: str) -> None:
            nonlocal errors
            async with sem:
                t0 = time.perf_counter()
                try:
                    r = await http.post(f"/api/v1/tickets/{tid}/actions/{action}", headers=headers, json=body or {})
                except httpx.TransportError:  # e.g. a keep-alive connection the server just closed
                    errors += 1
                    return
                lat.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(one(t) for t in ids))
        elapsed = time.perf_counter() - started
    return {"n": len(ids), "errors": errors, "seconds": round(elapsed, 2),
            "per_s": round(len(ids) / elapsed, 1), "latency_ms": percentiles(lat)}


async def _wait_all(database_url: str, n: int, ready: float) -> dict[str, Any]:
    engine = create_async_engine(database_url, pool_size=2)
    try:
        while await _count(engine) < n:
            if time.perf_counter() - ready > 240:
                raise RuntimeError(f"only {await _count(engine)} of {n} tickets after 240s")
            await asyncio.sleep(0.1)
        wall = time.perf_counter() - ready
        async with engine.connect() as c:
            first, last = (await c.execute(text("SELECT min(created_at), max(created_at) FROM eoms.tickets"))).one()
    finally:
        await engine.dispose()
    span = (last - first).total_seconds()
    return {"orders": n, "tickets": n, "first_to_last_s": round(span, 2),
            "tickets_per_s": round(n / span, 1) if span else None,
            "wall_from_ready_s": round(wall, 2), "wall_tickets_per_s": round(n / wall, 1)}


async def _walk(database_url: str, url: str, token: str, m: int, concurrency: int) -> dict[str, Any]:
    engine = create_async_engine(database_url, pool_size=2)
    async with engine.connect() as c:
        ids = [r[0] for r in (await c.execute(text(
            "SELECT id FROM eoms.tickets WHERE current_node = 'order_acceptance_check' ORDER BY id LIMIT :n"),
            {"n": m})).all()]
    await engine.dispose()
    accept = await _transitions(url, token, ids, "accept", concurrency)
    print(f"accept (claim): {accept}", flush=True)
    complete = await _transitions(url, token, ids, "complete", concurrency, {"outcome": "accepted"})
    print(f"complete (-> next node): {complete}", flush=True)
    return {"concurrency": concurrency, "accept": accept, "complete": complete}


def run(n_orders: int, n_transitions: int, concurrency: int) -> dict[str, Any]:
    # The REST process consumes nothing: the events wait in Kafka until the consumer starts.
    with BenchEnv(services=["eoms-bridge"], env={"RUN_CONSUMERS": "false"}) as env:
        produce_s = asyncio.run(_produce(env.infra.kafka_bootstrap, n_orders))
        print(f"produced {n_orders} crm.order.submitted in {produce_s:.1f}s", flush=True)
        logs = InfraProfile.named("bench").data_dir / "logs"
        consumer = ServiceProcess(spec("eoms-bridge"), {**env.infra.env(), "ENVIRONMENT": "test",
                                                        "LOG_LEVEL": "WARNING"},
                                  free_port(), logs / "eoms-bridge-consumer.log")
        consumer.start(wait=True, timeout=120)
        ready = time.perf_counter()
        try:
            creation = asyncio.run(_wait_all(env.infra.database_url, n_orders, ready))
        finally:
            consumer.stop()
        print(f"tickets created: {creation}", flush=True)
        transitions = asyncio.run(_walk(env.infra.database_url, env.url("eoms-bridge"),
                                        env.token("ns_bench", "network_staff"), n_transitions, concurrency))
    return {"ticket_creation": creation, "transitions": transitions}


async def _produce_at(bootstrap: str, rate: float, seconds: float) -> dict[str, float]:
    """`crm.order.submitted` at `rate` per second for `seconds` (open loop, sent every 10 ms as due); order id ->
    the time it was handed to the producer."""
    producer = Producer(bootstrap, client_id="bench-eoms-steady")
    await producer.start()
    sent: dict[str, float] = {}
    futures = []
    try:
        started = time.time()
        n = int(rate * seconds)
        i = 0
        while i < n:
            due = min(n, int((time.time() - started) * rate) + 1)
            while i < due:
                e = _order(i)
                sent[e.subject] = time.time()
                futures.append(await producer.send(CRM_ORDERS, e.to_bytes(), key=e.subject.encode()))
                i += 1
            await asyncio.sleep(0.01)
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent


async def _steady(env: BenchEnv, rate: float, seconds: float) -> dict[str, Any]:
    engine = create_async_engine(env.infra.database_url, pool_size=2)
    try:
        before = await _count(engine)
        meter = CpuMeter(env.cpu_roots()).start()
        load_before = [round(x, 1) for x in os.getloadavg()]
        sent = await _produce_at(env.infra.kafka_bootstrap, rate, seconds)
        deadline = time.time() + 120
        while await _count(engine) < before + len(sent) and time.time() < deadline:
            await asyncio.sleep(0.1)
        used = meter.stop()
        async with engine.connect() as c:
            rows = (await c.execute(text("SELECT origin_id, created_at FROM eoms.tickets WHERE origin_id = ANY(:ids)"),
                                    {"ids": list(sent)})).all()
    finally:
        await engine.dispose()
    done = len(rows)
    lag = [(r.created_at.timestamp() - sent[r.origin_id]) * 1000 for r in rows]
    return {"offered_rate_per_s": rate, "offered_seconds": seconds, "orders": len(sent), "tickets": done,
            "load_average": {"before": load_before, "after": [round(x, 1) for x in os.getloadavg()]},
            "machine_cpu": meter.machine, "produced_to_ticket_ms": percentiles(lag),
            "cpu_ms_per_order": round(sum(used.values()) * 1000 / max(1, done), 3),
            "cpu_ms_per_order_by_process": {k: round(v * 1000 / max(1, done), 3) for k, v in sorted(used.items())}}


def run_steady(rates: list[float], seconds: float, profile: str | None) -> dict[str, Any]:
    from bench.e2e_orders import report_profiles, start_profiles

    with BenchEnv(services=["eoms-bridge"]) as env:
        asyncio.run(_steady(env, 50, 4))  # warm-up (discarded): pools, statement caches, the group's assignment
        runs = []
        for n, rate in enumerate(rates):
            spies = start_profiles({"eoms-bridge": env.cpu_roots()["eoms-bridge"]}, profile, seconds) \
                if profile and n == 0 else {}
            res = asyncio.run(_steady(env, rate, seconds))
            print(f"rate {rate:>6.0f}/s: {res['tickets']} of {res['orders']} tickets, produced -> ticket "
                  f"{res['produced_to_ticket_ms']}, CPU-ms/order {res['cpu_ms_per_order']} "
                  f"{res['cpu_ms_per_order_by_process']}, load {res['load_average']}, machine {res['machine_cpu']}",
                  flush=True)
            runs.append(res)
            report_profiles(spies, profile or "")
    return {"steady": runs}


def main() -> None:
    if any(a.startswith("--") for a in sys.argv[1:]):
        parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("--rates", default="100,300", help="offered orders/s, comma separated")
        parser.add_argument("--seconds", type=float, default=15)
        parser.add_argument("--profile", metavar="DIR", help="py-spy the bridge during the first rate")
        opts = parser.parse_args()
        write_result("eoms_tickets_steady", run_steady([float(r) for r in opts.rates.split(",")], opts.seconds,
                                                       opts.profile))
        return
    args = [int(a) for a in sys.argv[1:]]
    n_orders, n_transitions, concurrency = (args + [3000, 1000, 32][len(args):])[:3]
    result = run(n_orders, n_transitions, concurrency)
    write_result("eoms_tickets", {"params": {"orders": n_orders, "transitions": n_transitions,
                                             "concurrency": concurrency}, **result})


if __name__ == "__main__":
    main()
