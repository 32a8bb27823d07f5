"""EOMS bridge throughput: tickets created/s from `crm.order.submitted`, node transitions/s over REST.

1. N order events are produced to crm.orders while no bridge consumes them; then a bridge
   process with consumers starts and we time until every ticket exists (DB timestamps: first to
   last ticket, plus wall time from the consumer's readiness).
2. M tickets are claimed (accept) and then completed (complete → next node) over REST with C
   requests in flight; each call is one node transition (row lock, snapshot, history, outbox).

`python -m bench.eoms_tickets [N] [M] [C]`
"""

from __future__ import annotations

import asyncio
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
from bench.common import BenchEnv, percentiles, write_result
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


def main() -> None:
    args = [int(a) for a in sys.argv[1:]]
    n_orders, n_transitions, concurrency = (args + [3000, 1000, 32][len(args):])[:3]
    result = run(n_orders, n_transitions, concurrency)
    write_result("eoms_tickets", {"params": {"orders": n_orders, "transitions": n_transitions,
                                             "concurrency": concurrency}, **result})


if __name__ == "__main__":
    main()
