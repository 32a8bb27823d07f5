"""The floor: what this stack costs per POST before any code of ours, beside what an order costs.

The issue's target is 2 CPU-ms per order summed over every process of the chain (REST → CRM transaction →
relay → Kafka → EOMS bridge → its transaction) at 1,000 orders/s on this 2-core machine. This bench runs
throwaway apps (`bench/floor_app.py`) on the same uvicorn, the bench's PostgreSQL (its durable settings)
and the same lean load generator as `bench.crm_orders` (20 clients, closed loop, the CRM bench's body), and
reports CPU-ms per request of the app's process, of PostgreSQL and of the load generator itself:

  fastapi/asgi, 0   one INSERT … RETURNING per POST, autocommit (1 round trip)
  fastapi/asgi, 5   a transaction of five inserts per POST (7 round trips: the order's transaction shape)
  fastapi, 5, savepoint / rows   group commit: concurrent POSTs share a transaction, each in a savepoint of
                    its own, or the whole group's rows in one statement (`FLOOR_GROUP`, bench/floor_app.py)

`python -m bench.floor [--seconds 12]`; figures in bench/results/floor.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from typing import Any

import httpx

from bench.common import PROJECT_ROOT, BenchEnv, CpuMeter, infra_roots, write_result
from bench.crm_orders import BODY
from bench.http_load import build_post, closed_loop
from devtools.infra import free_port

VARIANTS = (("fastapi", 0, ""), ("asgi", 0, ""), ("fastapi", 5, ""), ("asgi", 5, ""),
            ("fastapi", 5, "savepoint"), ("fastapi", 5, "rows"))
CLIENTS = 20


def _wait_ready(url: str) -> None:
    for _ in range(150):
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


def measure(env: BenchEnv, kind: str, tx: int, group: str, seconds: float) -> dict[str, Any]:
    dsn = env.infra.database_url.replace("postgresql+asyncpg", "postgresql")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.floor_app:app", "--host", "127.0.0.1", "--port", str(port),
         "--no-access-log", "--log-level", "warning"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "FLOOR_DSN": dsn, "FLOOR_KIND": kind, "FLOOR_TX": str(tx), "FLOOR_GROUP": group})
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url)
        make = build_post(url, "/api/v1/orders", BODY, {"Authorization": "Bearer x"})
        asyncio.run(closed_loop(url, make, CLIENTS, 2.0))  # warm-up
        meter = CpuMeter({"app": proc.pid, **infra_roots(env.infra)}).start()
        generator_started = time.process_time()
        replies = asyncio.run(closed_loop(url, make, CLIENTS, seconds))
        generator_s = time.process_time() - generator_started
        used = meter.stop()
        stats = httpx.get(url + "/floor-stats", timeout=5).json() if group else {}
    finally:
        proc.terminate()
        proc.wait(10)
    created = sum(1 for r in replies if r.status == 201)
    per = {k: round(v * 1000 / max(1, created), 3) for k, v in used.items() if k != "kafka"}
    per["load_generator"] = round(generator_s * 1000 / max(1, created), 3)
    grouped = {"group_commit": group,
               "requests_per_group": round(stats.get("requests", 0) / max(1, stats.get("groups", 0)), 1)}
    round_trips = 1 if tx == 0 else tx + 2
    if group == "rows":
        round_trips = 3  # per group
    return {"kind": kind, "inserts_per_transaction": tx, "round_trips": round_trips, **(grouped if group else {}),
            "requests_201": created, "requests_per_s": round(created / meter.wall_s, 1),
            "cpu_ms_per_request": per,
            "cpu_ms_per_request_app_and_postgresql": round(per.get("app", 0) + per.get("postgresql", 0), 3),
            "load_average": [round(x, 2) for x in os.getloadavg()], "machine_cpu": meter.machine}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0)
    args = parser.parse_args()
    runs = []
    with BenchEnv(services=[]) as env:
        for kind, tx, group in VARIANTS:
            result = measure(env, kind, tx, group, args.seconds)
            print(result, flush=True)
            runs.append(result)
    write_result("floor", {"clients": CLIENTS, "seconds": args.seconds, "runs": runs})


if __name__ == "__main__":
    main()
