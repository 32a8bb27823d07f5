"""The statistics read model: how fast the stats service records a backlog, and how fast a rebuild replays it.

On the bench infrastructure (fresh, real Kafka, durable PostgreSQL) with the stats service as a real process
(its report scheduler off): `--orders` submitted orders (two items each) and, per order, a ticket's node
entered / assigned / completed and an `sla.met` (six events per order) are produced; the clock runs from
the first produced event to the last fact recorded by the live consumer (facts counted in the database).
Then `stats.services.rebuild` (truncate, replay from offset zero, one transaction per batch) is timed in this
process; the figures it gives back are compared with the live ones (they must be equal).

`python -m bench.stats_read_model --orders 5000`
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from backbone.db import make_engine, make_session_factory
from backbone.envelope import Envelope
from backbone.events import (
    OrderSubmitted,
    SlaMet,
    TicketNodeAssigned,
    TicketNodeCompleted,
    TicketNodeEntered,
    topic_of,
)
from backbone.kafka import Producer
from bench.common import BenchEnv, write_result
from stats.models import metadata, outbox
from stats.services.rebuild import rebuild


def _events(n: int, run: str) -> list[Envelope]:
    start = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
    out: list[Envelope] = []
    for i in range(n):
        at = start + timedelta(seconds=i)
        cust = {"customer_id": f"cus-{i % 50}", "customer_name": "bench", "customer_tier": "B",
                "account_manager_id": f"am-{i % 7}", "customer_region": f"r{i % 5}"}
        order = f"ord-{run}-{i}"
        items = [{"item_id": f"{order}-{k}", "product": p, "business_kind": "opening", "business_type": f"{p}.opening"}
                 for k, p in enumerate(("dedicated_line_data", "ip_transit"))]
        out.append(Envelope.wrap(OrderSubmitted(**cust, order_id=order, channel="account_manager", items=items,
                                                submitted_at=at), source="bench", subject=order))
        t = f"tkt-{run}-{i}"
        ctx = {"ticket_id": t, "ticket_kind": "service_opening", "business_type": "dedicated_line_data.opening",
               "origin": "order", "origin_id": order, **cust, "workflow_id": "w", "workflow_version": 1,
               "node": "resource_check", "role": "network_resource"}
        person = f"p-{i % 20}"
        out += [
            Envelope.wrap(TicketNodeEntered(**ctx, entered_at=at), source="bench", subject=t),
            Envelope.wrap(TicketNodeAssigned(**ctx, assignee=person, assigned_at=at + timedelta(seconds=5)),
                          source="bench", subject=t),
            Envelope.wrap(TicketNodeCompleted(**ctx, assignee=person, outcome="ok",
                                              completed_at=at + timedelta(seconds=60 + i % 600)),
                          source="bench", subject=t),
        ]
        alert = {k: v for k, v in ctx.items() if k not in ("origin", "origin_id", "workflow_id", "workflow_version")}
        out.append(Envelope.wrap(SlaMet(**alert, timer_id=f"tmr-{t}", assignee=person, deadline=at, policy_version="1",
                                        elapsed_seconds=60, late=i % 4 == 0), source="bench", subject=t))
    return out


FACTS = ("SELECT (SELECT count(*) FROM stats.order_items) + (SELECT count(*) FROM stats.node_events)"
         " + (SELECT count(*) FROM stats.sla_alerts)")


async def _run(env: BenchEnv, n: int) -> dict[str, Any]:
    events = _events(n, uuid.uuid4().hex[:6])
    expected = n * 2 + n * 3 + n  # two items, three node events, one alert per order
    engine = make_engine(env.infra.database_url, pool_size=2, schema=metadata.schema)
    factory = make_session_factory(engine, outbox=outbox, source="stats")

    async def facts() -> int:
        async with engine.connect() as conn:
            return int((await conn.execute(text(FACTS))).scalar_one())

    async def figures() -> list[Any]:
        async with engine.connect() as conn:
            return [tuple(r) for r in (await conn.execute(text(
                "SELECT day, product, channel, region, count(*) FROM stats.order_items GROUP BY 1, 2, 3, 4 "
                "ORDER BY 1, 2, 3, 4"))).all()]

    producer = Producer(env.infra.kafka_bootstrap)
    await producer.start()
    t0 = time.monotonic()
    try:
        acks = [await producer.send(topic_of(e.type), e.to_bytes(), key=e.subject.encode()) for e in events]
        await asyncio.gather(*acks)
    finally:
        await producer.stop()
    produced_s = time.monotonic() - t0
    while await facts() < expected:
        await asyncio.sleep(0.2)
    live_s = time.monotonic() - t0
    live = await figures()
    t1 = time.monotonic()
    result = await rebuild(factory, env.infra.kafka_bootstrap)
    rebuild_s = time.monotonic() - t1
    same = await figures() == live and await facts() == expected
    await engine.dispose()
    return {"orders": n, "events": len(events), "facts": expected, "produce_s": round(produced_s, 2),
            "live": {"seconds": round(live_s, 2), "events_per_s": round(len(events) / live_s, 1)},
            "rebuild": {"seconds": round(rebuild_s, 2), "records": result.records,
                        "events_per_s": round(result.records / rebuild_s, 1), "same_figures": same}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5000)
    args = parser.parse_args()
    with BenchEnv(services=["stats"], env={"RUN_REPORT_SCHEDULER": "false"}) as env:
        data = asyncio.run(_run(env, args.orders))
    print(data)
    write_result("stats_read_model", data)


if __name__ == "__main__":
    main()
