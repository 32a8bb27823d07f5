"""The fast fault drills of `make drill` (devtools/drill.py) inside `make test`: the ones that stop no
server, on the test infrastructure, each a few seconds of load counted at its edges. The PostgreSQL
outages (stopped 20 s, killed -9) and the whole-stack drills (devtools/drills/stack.py) run only in
`make drill`, on the drill profile's own servers. Also `make run`'s supervisor, on real processes."""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from backbone.auth import issue_token
from backbone.settings import DEV_JWT_SECRET
from backbone.workers import Backoff
from devtools.drill import FAST_DRILLS
from devtools.drills.proxy import TcpProxy
from devtools.drills.stack import SKEW_DIR
from devtools.infra import PROJECT_ROOT, free_port
from devtools.suite import ServiceProcess, ServiceSpec, Supervisor, spec

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.mark.parametrize("name", sorted(FAST_DRILLS))
async def test_fast_drill(infra: Any, name: str) -> None:
    result = await FAST_DRILLS[name]((infra.database_url, infra.kafka_bootstrap), quick=True)
    assert result.ok, asdict(result)
    assert result.acknowledged > 0 and result.lost == 0 and result.duplicated_effects == 0 and result.reordered == 0


async def _until_restarted(supervisor: Supervisor) -> None:
    """The supervisor's checks, as `make run` makes them, until it has restarted something (10 s at most)."""
    for _ in range(100):
        supervisor.check()
        if supervisor.restarts:
            return
        await asyncio.sleep(0.1)


async def test_the_supervisor_restarts_a_service_killed_9(infra: Any, tmp_path: Path) -> None:
    """`make run`'s supervisor (devtools.suite.Supervisor) on a real service process: killed -9, it is
    restarted after its backoff and answers /readyz again."""
    proc = ServiceProcess(spec("notify"), {**infra.env(), "ENVIRONMENT": "test"}, free_port(), tmp_path / "notify.log")
    await asyncio.to_thread(proc.start, True, 90)
    try:
        supervisor = Supervisor([proc], backoff=Backoff(initial_s=0.2, max_s=0.2, jitter=0))
        assert proc.proc is not None
        first = proc.proc.pid
        supervisor.check()
        proc.kill()
        await _until_restarted(supervisor)
        assert supervisor.restarts == {"notify": 1}
        assert proc.proc is not None and proc.proc.pid != first
        await asyncio.to_thread(proc.wait_ready, 90)
    finally:
        proc.stop()


def _group(pgid: int) -> set[int]:
    """The live processes of a process group, from /proc (zombies not counted)."""
    members = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.add(int(stat.parent.name))
    return members


async def test_a_multi_worker_service_leaves_no_worker_behind(infra: Any, tmp_path: Path) -> None:
    """uvicorn with `--workers 2` (as the benches run the CRM): its supervisor killed -9, the workers would live on,
    orphaned, beside the restart (they did after benches: busy, polling a stopped broker); the supervisor ends them
    when it finds the service dead, and `stop()` leaves nothing of the group either."""
    proc = ServiceProcess(spec("notify"), {**infra.env(), "ENVIRONMENT": "test"}, free_port(), tmp_path / "notify.log")
    proc.extra_args = ["--workers", "2"]
    await asyncio.to_thread(proc.start, True, 90)
    assert proc.proc is not None
    first = proc.proc.pid
    try:
        supervisor = Supervisor([proc], backoff=Backoff(initial_s=0.2, max_s=0.2, jitter=0))
        for _ in range(100):
            if len(_group(first)) >= 3:  # uvicorn and two workers (and multiprocessing's resource tracker)
                break
            await asyncio.sleep(0.1)
        workers = _group(first) - {first}
        assert len(workers) >= 2, workers
        os.kill(first, signal.SIGKILL)  # the supervisor process alone, as an OOM kill would
        await _until_restarted(supervisor)
        assert supervisor.restarts == {"notify": 1}
        for _ in range(50):
            if not _group(first):
                break
            await asyncio.sleep(0.1)
        assert not _group(first), "workers of the killed uvicorn outlived it"
        await asyncio.to_thread(proc.wait_ready, 90)
        second = proc.proc.pid
        assert len(_group(second)) >= 2, _group(second)  # uvicorn and a worker at least (the one that answered)
    finally:
        proc.stop()
        if _group(first):  # the test failed: leave no orphan busy on the machine
            os.killpg(first, signal.SIGKILL)
    assert not _group(second)


async def test_the_supervisor_backs_off_a_crash_loop(tmp_path: Path) -> None:
    """A service that cannot start (its module does not exist: uvicorn exits 1) is restarted after
    1 s, 2 s, 4 s …: the delay doubles with each crash in a row, capped."""
    broken = ServiceSpec("broken", "devtools.no_such_module:app", PROJECT_ROOT, 0)
    proc = ServiceProcess(broken, {}, free_port(), tmp_path / "broken.log").start(wait=False)
    supervisor = Supervisor([proc], backoff=Backoff(initial_s=1.0, max_s=4.0, jitter=0))
    now = 0.0
    delays = []
    for _ in range(4):
        assert proc.proc is not None
        assert proc.proc.wait(60) != 0
        supervisor.check(now)  # found dead: the restart is scheduled
        due = supervisor._due[0]
        delays.append(due - now)
        supervisor.check(due - 0.01)  # not yet
        assert supervisor._due == {0: due}
        now = due
        supervisor.check(now)  # restarted
    assert delays == [1.0, 2.0, 4.0, 4.0]
    assert supervisor.restarts == {"broken": 4}
    assert proc.proc is not None
    proc.proc.wait(60)


async def test_an_eoms_bridge_whose_clock_runs_120_s_ahead_stamps_tickets_by_the_database(
        infra: Any, tmp_path: Path) -> None:
    """The clock-skew drill's EOMS half: a bridge process whose wall clock runs 120 s ahead (the drills'
    sitecustomize shim) opens a ticket; its node is entered at the database's time, not the instance's."""
    env = {**infra.env(), "ENVIRONMENT": "test", "CONSUMER_GROUP": "eoms-bridge-skewed-it",
           "PYTHONPATH": str(SKEW_DIR), "DRILL_CLOCK_SKEW_S": "120"}
    proc = ServiceProcess(spec("eoms-bridge"), env, free_port(), tmp_path / "eoms-bridge.log")
    await asyncio.to_thread(proc.start, True, 90)
    engine = create_async_engine(infra.database_url, poolclass=NullPool)
    try:
        token = issue_token("fm-skewed", ["integration"], secret=DEV_JWT_SECRET)
        async with httpx.AsyncClient(base_url=proc.url, timeout=30) as http:
            r = await http.post("/tmf-api/troubleTicket/v4/troubleTicket", headers={"Authorization": f"Bearer {token}"},
                                json={"externalId": f"ALM-skew-{free_port()}", "ticketType": "incident",
                                      "description": "LOS on NE TJ-HX-OLT-07", "severity": "Critical",
                                      "@type": "TroubleTicket"})
        assert r.status_code == 201, r.text
        async with engine.connect() as conn:
            entered, db_now = (await conn.execute(text(
                "SELECT node_entered_at, clock_timestamp() FROM eoms.tickets WHERE id = :id"),
                {"id": r.json()["id"]})).one()
        assert entered <= db_now  # the instance's clock would have put it 120 s into the future
    finally:
        await engine.dispose()
        proc.stop()


async def test_the_tcp_proxy_holds_traffic_while_cut_and_delivers_it_in_order_once_healed() -> None:
    """The partition-one drill's proxy (devtools.drills.proxy) between a client and a real echo server:
    cut, nothing reaches either side (no reset, no refusal; a new connection is accepted and left
    silent); healed, everything held arrives, in order."""
    received = bytearray()
    got = asyncio.Event()

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            received.extend(data)
            got.set()
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    upstream = server.sockets[0].getsockname()[1]
    proxy = await TcpProxy(free_port(), ("127.0.0.1", upstream)).start()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", proxy.listen_port), 10)
        writer.write(b"one;")
        assert await asyncio.wait_for(reader.readexactly(4), 10) == b"one;"
        proxy.cut()
        writer.write(b"two;")
        late_reader, late_writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", proxy.listen_port), 10)
        late_writer.write(b"three;")
        got.clear()
        with pytest.raises(TimeoutError):  # held: the echo server never saw it
            await asyncio.wait_for(got.wait(), 1.0)
        assert bytes(received) == b"one;"
        proxy.heal()
        assert await asyncio.wait_for(reader.readexactly(4), 10) == b"two;"
        assert await asyncio.wait_for(late_reader.readexactly(6), 10) == b"three;"
        assert proxy.connections == 2 and proxy.cut_s > 0
        writer.close()
        late_writer.close()
    finally:
        await proxy.stop()
        server.close()
