"""The fast fault drills of `make drill` (devtools/drill.py) inside `make test`: the ones that stop no
server, on the test infrastructure, each a few seconds of load counted at its edges. The PostgreSQL
outages (stopped 20 s, killed -9) and the whole-stack drills (devtools/drills/stack.py) run only in
`make drill`, on the drill profile's own servers. Also `make run`'s supervisor, on real processes."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from backbone.workers import Backoff
from devtools.drill import FAST_DRILLS
from devtools.infra import PROJECT_ROOT, free_port
from devtools.suite import ServiceProcess, ServiceSpec, Supervisor, spec

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.mark.parametrize("name", sorted(FAST_DRILLS))
async def test_fast_drill(infra: Any, name: str) -> None:
    result = await FAST_DRILLS[name]((infra.database_url, infra.kafka_bootstrap), quick=True)
    assert result.ok, asdict(result)
    assert result.acknowledged > 0 and result.lost == 0 and result.duplicated_effects == 0 and result.reordered == 0


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
        for _ in range(100):
            supervisor.check()
            if supervisor.restarts:
                break
            await asyncio.sleep(0.1)
        assert supervisor.restarts == {"notify": 1}
        assert proc.proc is not None and proc.proc.pid != first
        await asyncio.to_thread(proc.wait_ready, 90)
    finally:
        proc.stop()


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
