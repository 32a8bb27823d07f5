"""backbone.serving: uvicorn's idle tick, once a second, woken at once by a stop signal; none while no
connection is open, a new connection dated at once and waking it.

A real uvicorn process (`python -m uvicorn`, as the services are launched) serves a small app that
applies `quiet_main_loop` with a one-hour tick: it must still answer with a `Date` header, and SIGTERM
must stop it gracefully, which without the signal's wake-up would take the hour.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from backbone import serving
from devtools.infra import free_port

APP = textwrap.dedent('''
    from backbone.serving import quiet_main_loop

    quiet_main_loop(tick_s=3600)


    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})
''')


def test_quiet_main_loop_is_idempotent_and_keeps_uvicorns_exit_handling() -> None:
    from uvicorn.server import Server

    serving.quiet_main_loop()
    loop, handle_exit = Server.main_loop, Server.handle_exit
    serving.quiet_main_loop()
    assert Server.main_loop is loop and Server.handle_exit is handle_exit  # not wrapped twice
    assert handle_exit.__wrapped__.__module__ == "uvicorn.server"  # type: ignore[attr-defined]
    server = Server.__new__(Server)
    server._captured_signals, server.should_exit, server.force_exit = [], False, False
    Server.handle_exit(server, signal.SIGTERM, None)  # no loop yet: nothing to wake, no error
    assert server.should_exit and server._captured_signals == [signal.SIGTERM]


@pytest.mark.timeout(60)
def test_a_uvicorn_process_with_an_hour_tick_serves_and_stops_at_once_on_sigterm(tmp_path: Path) -> None:
    (tmp_path / "quietapp.py").write_text(APP)
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "quietapp:app", "--host", "127.0.0.1", "--port", str(port),
             "--lifespan", "off", "--log-level", "info"],
            cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        assert response.status_code == 200 and response.text == "ok"
        assert response.headers.get("date", "").endswith(" GMT")  # set by the first tick
        proc.send_signal(signal.SIGTERM)
        # Without the wake-up the main loop would sleep out its hour: the timeout is the test's bound only.
        # uvicorn re-raises the signal it captured once its graceful shutdown is done.
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
        assert "Finished server process" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class _Config:
    date_header = True
    encoded_headers: ClassVar[list[tuple[bytes, bytes]]] = [(b"server", b"test")]
    callback_notify = None


class _Server:
    """What `_main_loop` uses of a `uvicorn.Server`: its config, its state, `on_tick` (counted here)."""

    def __init__(self) -> None:
        from uvicorn.server import ServerState

        self.config = _Config()
        self.server_state = ServerState()
        self.should_exit = False
        self.ticks = 0

    async def on_tick(self, counter: int) -> bool:
        self.ticks += 1
        return self.should_exit


@pytest.mark.timeout(30)
async def test_the_loop_does_not_tick_while_no_connection_is_open_and_a_new_one_is_dated_and_wakes_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving, "_tick_s", 0.01)
    monkeypatch.setattr(serving, "IDLE_TICK_S", 3600.0)
    server = _Server()
    loop_task = asyncio.ensure_future(serving._main_loop(server))
    try:
        await asyncio.sleep(0.3)  # thirty ticks' worth with nobody connected
        assert server.ticks == 1  # the first tick only
        started = int(time.time())
        while int(time.time()) == started:  # the Date header set at the first tick is a second old
            await asyncio.sleep(0.05)
        server.server_state.default_headers = [(b"date", b"stale")]
        connection = object()
        server.server_state.connections.add(connection)  # type: ignore[arg-type]  # as uvicorn's protocols do in connection_made
        date = dict(server.server_state.default_headers)[b"date"]
        assert date != b"stale" and date.endswith(b" GMT")  # dated before its first request is read
        assert server.server_state.default_headers[1:] == _Config.encoded_headers
        while server.ticks < 5:  # woken: it ticks again while the connection is open
            await asyncio.sleep(0.01)
        server.server_state.connections.discard(connection)
        await asyncio.sleep(0.1)
        settled = server.ticks
        await asyncio.sleep(0.3)
        assert server.ticks == settled  # the last connection gone: no tick again
        server.should_exit = True
        getattr(server, serving._WAKE)()  # what a stop signal does (handle_exit)
        await asyncio.wait_for(loop_task, 5)
    finally:
        loop_task.cancel()


@pytest.mark.timeout(60)
def test_should_exit_set_directly_stops_an_idle_server_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import uvicorn

    serving.quiet_main_loop()
    monkeypatch.setattr(serving, "IDLE_TICK_S", 3600.0)

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        return None

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), lifespan="off",
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    server.should_exit = True  # from another thread, no signal, no connection open
    thread.join(30)  # without the wake-up: the hour's idle wait; the join's timeout is the test's bound only
    assert not thread.is_alive()
