"""TMF hub fan-out: 100 subscribers x 1,000 events, one subscriber down throughout.

The CRM runs as a real uvicorn process on the bench infrastructure (real Kafka, PostgreSQL). 100 listeners
are registered on /tmf-api/productOrderingManagement/v4/hub: 99 served by one asyncio HTTP server of this
process (a path each; it answers 200 at once), one whose callback is a closed port (connection refused:
down throughout). Then 500 orders are placed and cancelled over REST (8 concurrent clients): 1,000 TMF
events (productOrderCreateEvent, productOrderStateChangeEvent cancelled), i.e. 99,000 deliveries to
make and 1,000 to keep retrying behind the down subscriber's breaker.

Figures: deliveries/s while delivering (first to last callback) and overall (first order to last
callback); event -> callback latency (the callback's arrival minus the event's `eventTime`, the time the
source event was written with its state change) p50/p90/p99; order violations per (subscriber, order)
(must be 0); duplicates; signatures checked on a sample (every 50th callback).

`python -m bench.hub_fanout [--orders 500] [--subscribers 100]`; figures in bench/results/hub_fanout.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import defaultdict
from datetime import datetime
from typing import Any

import httpx

from backbone.hub.signing import verify
from bench.common import BenchEnv, percentiles, write_result
from devtools.infra import free_port

HUB = "/tmf-api/productOrderingManagement/v4/hub"
ORDER = {"customer_id": "cus_tj_port", "channel": "account_manager", "submit": True,
         "items": [{"product": "dedicated_line_data", "business_kind": "opening",
                    "attributes": {"bandwidth_mbps": 100, "a_end_address": "天津港", "z_end_address": "滨海IDC"}}]}
HUB_ENV = {"HUB_CONCURRENCY": "64", "HUB_SUBSCRIBER_CONCURRENCY": "8", "HUB_BATCH_SIZE": "1000",
           "HUB_SUBSCRIBER_BATCH": "50", "HUB_POLL_S": "0.05", "HUB_TIMEOUT_S": "2"}


class Sink:
    """One HTTP server for the 99 live subscribers: /s/<n>; records what arrives, answers 200."""

    def __init__(self) -> None:
        self.secrets: dict[int, str] = {}
        self.events: dict[str, tuple[str, str, float]] = {}  # event id -> (entity, type, eventTime epoch)
        self.arrivals: list[tuple[int, str, float]] = []  # (subscriber, event id, arrival epoch)
        self.bad_signatures = 0
        self.checked = 0
        self.port = 0

    async def start(self) -> None:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=4096)
        self.port = server.sockets[0].getsockname()[1]
        self.server = server

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                sub = int(line.split(b" ")[1].rsplit(b"/", 1)[1])
                headers: dict[str, str] = {}
                while (h := await reader.readline()) not in (b"\r\n", b""):
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                now = time.time()
                event_id = headers["x-hub-event-id"]
                if event_id not in self.events:
                    data = json.loads(body)
                    order = data["event"]["productOrder"]["id"]
                    at = datetime.fromisoformat(data["eventTime"].replace("Z", "+00:00")).timestamp()
                    self.events[event_id] = (order, data["eventType"], at)
                self.arrivals.append((sub, event_id, now))
                if len(self.arrivals) % 50 == 0:
                    self.checked += 1
                    try:
                        verify(self.secrets[sub], body, headers)
                    except Exception:  # counted, not raised
                        self.bad_signatures += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def run(env: BenchEnv, orders: int, subscribers: int) -> dict[str, Any]:
    sink = Sink()
    await sink.start()
    url = env.url("crm")
    admin = {"Authorization": f"Bearer {env.token('bench-integration', 'admin')}"}
    am = {"Authorization": f"Bearer {env.token('am_zhang', 'account_manager')}"}
    down_url = f"http://127.0.0.1:{free_port()}/down"  # nobody listens there
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        down_id = ""
        for n in range(subscribers):
            callback = down_url if n == subscribers - 1 else f"http://127.0.0.1:{sink.port}/s/{n}"
            r = await http.post(HUB, json={"callback": callback}, headers=admin)
            assert r.status_code == 201, r.text
            sink.secrets[n] = r.json()["secret"]
            if callback == down_url:
                down_id = r.json()["id"]
        live = subscribers - 1
        started = time.time()
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(orders):
            queue.put_nowait(i)

        async def client() -> None:
            while not queue.empty():
                queue.get_nowait()
                r = await http.post("/api/v1/orders", json=ORDER, headers=am)
                assert r.status_code == 201, r.text
                r = await http.post(f"/api/v1/orders/{r.json()['id']}/cancel", json={"reason": "bench"}, headers=am)
                assert r.status_code == 200, r.text

        await asyncio.gather(*(client() for _ in range(8)))
        placed = time.time()
        expected = live * orders * 2
        deadline = time.monotonic() + 900
        while len(sink.arrivals) < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        r = await http.get(f"{HUB}/{down_id}/delivery", params={"limit": 1}, headers=admin)
        down_total = int(r.headers["X-Total-Count"])
        r = await http.get(f"{HUB}/{down_id}/delivery", params={"limit": 1, "status": "delivered"}, headers=admin)
        down_delivered = int(r.headers["X-Total-Count"])
    sink.server.close()
    arrivals = sink.arrivals
    first, last = arrivals[0][2], arrivals[-1][2]
    latency = [(at - sink.events[eid][2]) * 1000 for _, eid, at in arrivals]
    seen: dict[tuple[int, str], list[str]] = defaultdict(list)
    ids_seen: set[tuple[int, str]] = set()
    duplicates = 0
    for sub, eid, _ in arrivals:
        if (sub, eid) in ids_seen:
            duplicates += 1
            continue
        ids_seen.add((sub, eid))
        entity, etype, _ = sink.events[eid]
        seen[(sub, entity)].append(etype)
    violations = sum(1 for types in seen.values() if types[0] != "productOrderCreateEvent")
    return {
        "subscribers": subscribers, "live_subscribers": live, "down_subscribers": 1, "orders": orders,
        "events": orders * 2, "deliveries_expected": expected, "deliveries": len(arrivals),
        "duplicates": duplicates, "order_violations": violations,
        "signatures_checked": sink.checked, "bad_signatures": sink.bad_signatures,
        "placing_s": round(placed - started, 1), "delivering_s": round(last - first, 1),
        "deliveries_per_s": round(len(arrivals) / max(0.001, last - first), 0),
        "deliveries_per_s_overall": round(len(arrivals) / max(0.001, last - started), 0),
        "drain_after_last_event_s": round(last - placed, 1),
        "event_to_callback_ms": percentiles(latency),
        "down_subscriber": {"queued": down_total, "delivered": down_delivered},
        "settings": HUB_ENV,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--subscribers", type=int, default=100)
    args = parser.parse_args()
    with BenchEnv(["crm"], env=HUB_ENV) as env:
        result = asyncio.run(run(env, args.orders, args.subscribers))
    print(json.dumps(result, indent=2))
    write_result("hub_fanout", result)


if __name__ == "__main__":
    main()
