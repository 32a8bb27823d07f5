"""CRM order creation over REST: throughput and latency with 50 concurrent clients (closed loop, 20 s).

The CRM runs as a real uvicorn process (one worker, then two) on the bench infrastructure (durable
PostgreSQL settings, real Kafka). Each client posts its next order as soon as the last one
returns: `POST /api/v1/orders` with `submit: true` and a fresh `Idempotency-Key`, i.e. per order
one transaction with the idempotency lock and row, the order, its item, its history and two
outbox rows (crm.order.submitted, crm.order.status_changed), published by the outbox relay
meanwhile. The lean HTTP client of bench.http_load keeps the load generator's CPU small.

It also measures the CPU the order costs: CPU-ms per 201 of the CRM's process tree (uvicorn, its
workers, the relay inside them) and of PostgreSQL, from /proc, over the measured window (the relay's
drain afterwards included). `--profile DIR` runs py-spy on the CRM during the window (collapsed stacks).

`python -m bench.crm_orders [--clients 50 | --rate R] [--seconds 20] [--workers 1,2] [--profile DIR] [--out NAME]`
(`--rate`: open loop at R orders/s, the same offered load for runs to compare: CPU per order falls as
the rate rises, the relay's and consumers' batches grow);
figures in bench/results/crm_orders.json (or NAME.json).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from bench.common import BenchEnv, CpuMeter, infra_roots, percentiles, write_result
from bench.http_load import build_post, closed_loop, open_loop

BODY = {"customer_id": "cus_tj_port", "channel": "account_manager", "submit": True,
        "items": [{"product": "dedicated_line_data", "business_kind": "opening",
                   "attributes": {"bandwidth_mbps": 100, "a_end_address": "天津港", "z_end_address": "滨海IDC"}}]}


async def _outbox_backlog(database_url: str, timeout_s: float = 30) -> tuple[int, float]:
    """Unsent outbox rows right after the load, and how long the relay takes to drain them."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        count = "SELECT count(*) FROM crm.outbox WHERE sent_at IS NULL"
        backlog = int(await conn.fetchval(count))
        started = time.perf_counter()
        while await conn.fetchval(count) and time.perf_counter() - started < timeout_s:
            await asyncio.sleep(0.05)
        return backlog, round(time.perf_counter() - started, 2)
    finally:
        await conn.close()


async def run(env: BenchEnv, clients: int, seconds: float, profile: str | None = None,
              rate: float | None = None) -> dict[str, Any]:
    url = env.url("crm")
    headers = {"Authorization": f"Bearer {env.token('am_zhang', 'account_manager')}"}
    make = build_post(url, "/api/v1/orders", BODY, headers)
    await closed_loop(url, make, clients, 2.0)  # warm-up: connections, pools, caches
    await _outbox_backlog(env.infra.database_url)  # the warm-up's events out of the way
    crm = env.procs["crm"].proc
    assert crm is not None
    spy = start_profile(crm.pid, profile, seconds) if profile else None
    meter = CpuMeter({"crm": crm.pid, **infra_roots(env.infra)}).start()
    started = time.perf_counter()
    # Open loop at `rate`: the same offered load for every run (CPU per order depends on the rate: batching).
    replies = await (open_loop(url, make, rate, seconds) if rate else closed_loop(url, make, clients, seconds))
    elapsed = time.perf_counter() - started
    ok = [r for r in replies if r.status == 201]
    latency = [(r.received - r.sent) * 1000 for r in ok]
    backlog, drain_s = await _outbox_backlog(env.infra.database_url)
    used = meter.stop()
    if spy is not None:
        spy.wait(60)
    statuses: dict[str, int] = {}
    for r in replies:
        statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
    return {
        "clients": None if rate else clients, "offered_rate_per_s": rate, "seconds": round(elapsed, 2),
        "requests": len(replies), "http_201": len(ok),
        "statuses": statuses, "orders_per_s": round(len(ok) / elapsed, 1), "latency_ms": percentiles(latency),
        "outbox_unsent_at_end": backlog, "outbox_drain_s": drain_s,
        "cpu_ms_per_order_by_process": {k: round(v * 1000 / max(1, len(ok)), 3) for k, v in sorted(used.items())},
        "load_average": [round(x, 2) for x in os.getloadavg()], "machine_cpu": meter.machine,
    }


def start_profile(pid: int, out_dir: str, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy on the CRM's process tree (its uvicorn workers too), collapsed stacks in DIR/crm.txt."""
    os.makedirs(out_dir, exist_ok=True)
    spy = os.path.join(os.path.dirname(sys.executable), "py-spy")
    return subprocess.Popen([spy, "record", "-p", str(pid), "-d", str(int(seconds)), "-f", "raw", "-r", "200",
                             "--subprocesses", "--nonblocking", "-o", os.path.join(out_dir, "crm.txt")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", default="1,2", help="uvicorn workers of the CRM, one run each")
    parser.add_argument("--profile", metavar="DIR", help="py-spy the CRM during the first run")
    parser.add_argument("--out", default="crm_orders", help="name of the results file under bench/results/")
    parser.add_argument("--rate", type=float, help="open loop at this many orders/s instead of --clients closed loop")
    args = parser.parse_args()
    runs: list[dict[str, Any]] = []
    for workers in [int(w) for w in args.workers.split(",")]:
        with BenchEnv(services=["crm"], crm_workers=workers) as env:
            profile = args.profile if not runs else None
            result = {"crm_workers": workers, **asyncio.run(run(env, args.clients, args.seconds, profile, args.rate))}
        print(f"{workers} worker(s): {result['orders_per_s']} orders/s with {args.clients} clients; latency "
              f"{result['latency_ms']}; statuses {result['statuses']}; outbox backlog "
              f"{result['outbox_unsent_at_end']} drained in {result['outbox_drain_s']}s; CPU-ms per order "
              f"{result['cpu_ms_per_order_by_process']}; load {result['load_average']}; "
              f"machine {result['machine_cpu']}",
              flush=True)
        runs.append(result)
    write_result(args.out, {"runs": runs})


if __name__ == "__main__":
    main()
