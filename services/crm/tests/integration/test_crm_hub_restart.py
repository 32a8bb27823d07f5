"""kill -9 of the CRM while its hub delivers: after a restart every event reaches the listener at least once,
each order's events in order, and a callback repeated after the crash carries the same event id and body.

The CRM runs as a real process (uvicorn, `devtools.suite.ServiceProcess`); the listener answers each
callback after 0.5 s, so callbacks are in flight when the process dies; the lease (`HUB_LEASE_S`, 3 s
here) makes their rows due again after the restart.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from crm_testkit import DATA_LINE, FACTORS_B, auth, new_uscc

from devtools.demo import seed_async
from devtools.infra import Infra, free_port
from devtools.suite import ServiceProcess, spec
from tests.support.hub_listener import Callback, Listener
from tests.support.kafka_tools import eventually

pytestmark = pytest.mark.infra

HUB = "/tmf-api/productOrderingManagement/v4/hub"
ADMIN = auth("integration-bss", "admin")
ORDERS = 20


def crm_process(infra: Infra, run: str, port: int) -> ServiceProcess:
    env = {**infra.env(), "ENVIRONMENT": "test", "CONSUMER_GROUP": "crm-hub-kill", "HUB_LEASE_S": "3",
           "HUB_RETRY_INITIAL_S": "0.2", "HUB_RETRY_MAX_S": "1", "HUB_POLL_S": "0.05",
           "HUB_SUBSCRIBER_CONCURRENCY": "2"}
    logs = infra_logs()
    return ServiceProcess(spec("crm"), env, port, logs / f"crm-hub-kill-{run}.log")


def infra_logs() -> Any:
    from devtools import infra as devinfra

    path = devinfra.test_profile().data_dir / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def first_occurrences(calls: list[Callback]) -> list[Callback]:
    seen: dict[str, Callback] = {}
    for c in calls:
        seen.setdefault(c.event_id, c)
    return list(seen.values())



def order_of(c: Callback) -> str | None:
    """The product order a callback is about; None for other resources' events (a fresh consumer group
    replays the topic's recent events of other tests too: cancellations, information requests, ...)."""
    resource = c.json["event"].get("productOrder")
    return resource.get("id") if isinstance(resource, dict) else None

async def test_kill_9_mid_fan_out_then_restart_delivers_everything_in_order(infra: Infra) -> None:
    await seed_async(infra.database_url)
    run = uuid.uuid4().hex[:8]
    listener = await Listener(delay_s=0.5).start()
    port = free_port()
    proc = crm_process(infra, run, port).start(wait=False)
    try:
        await asyncio.to_thread(proc.wait_ready)
        async with httpx.AsyncClient(base_url=proc.url, timeout=30) as http:
            r = await http.post(HUB, json={"callback": listener.url}, headers=ADMIN)
            assert r.status_code == 201, r.text
            listener.secret = r.json()["secret"]
            sub_id = r.json()["id"]
            manager = f"hubkill_{run}"
            r = await http.post("/api/v1/customers", headers=ADMIN, json={
                "name": f"港口集团 {run}", "uscc": new_uscc(), "industry": "manufacturing", "region": "天津-滨海新区",
                "account_manager_id": manager, "factors": FACTORS_B})
            assert r.status_code == 201, r.text
            customer_id = r.json()["id"]
            orders: list[str] = []
            for _ in range(ORDERS):
                r = await http.post("/api/v1/orders", headers=auth(manager, "account_manager"), json={
                    "customer_id": customer_id, "channel": "account_manager", "items": [DATA_LINE], "submit": True})
                assert r.status_code == 201, r.text
                orders.append(r.json()["id"])
                r = await http.post(f"/api/v1/orders/{orders[-1]}/cancel", json={"reason": "test"},
                                    headers=auth(manager, "account_manager"))
                assert r.status_code == 200, r.text

        def mine(lst: Listener) -> list[Callback]:
            return [c for c in lst.received if order_of(c) in orders]

        # Some callbacks delivered, more queued; kill -9 the moment a callback arrives (it is in flight:
        # the listener answers 0.5 s later).
        arrived = len(mine(listener))
        await listener.wait_for(lambda lst: len(mine(lst)) > max(arrived, 5), within_s=60)
        proc.kill()
        before = len(mine(listener))
        assert before < 2 * ORDERS, "everything arrived before the kill: nothing was left to prove"

        proc = crm_process(infra, run, port).start(wait=False)
        await asyncio.to_thread(proc.wait_ready)

        def all_cancelled(lst: Listener) -> bool:
            states = {(order_of(c), c.json["event"]["productOrder"]["state"])
                      for c in lst.accepted() if order_of(c) in orders}
            return all((o, "cancelled") in states for o in orders)

        await listener.wait_for(all_cancelled, within_s=120)

        async def nothing_pending() -> bool:
            async with httpx.AsyncClient(base_url=proc.url, timeout=30) as http:
                r = await http.get(f"{HUB}/{sub_id}/delivery", params={"status": "pending"}, headers=ADMIN)
                return r.status_code == 200 and r.headers["X-Total-Count"] == "0"

        # The listener records a callback before it answers: the hub's own record says when all are done.
        await eventually(nothing_pending, timeout_s=60, what="every delivery of the subscription done")
    finally:
        proc.stop()
        await listener.stop()

    calls = [c for c in listener.accepted() if order_of(c) in orders]
    assert all(c.signature_ok for c in listener.received)
    for order_id in orders:
        mine = first_occurrences([c for c in calls if order_of(c) == order_id])
        assert [c.json["eventType"] for c in mine] == ["productOrderCreateEvent", "productOrderStateChangeEvent"]
        assert mine[-1].json["event"]["productOrder"]["state"] == "cancelled"
    # Callbacks in flight at the kill were sent again after the restart: same event id, same bytes.
    by_id: dict[str, list[Callback]] = {}
    for c in listener.received:
        if order_of(c) not in orders:
            continue  # a fresh consumer group also replays older orders' events
        by_id.setdefault(c.event_id, []).append(c)
    repeated = {k: v for k, v in by_id.items() if len(v) > 1}
    assert repeated, "no callback was repeated: the kill found none in flight"
    for copies in repeated.values():
        assert len({c.body for c in copies}) == 1
