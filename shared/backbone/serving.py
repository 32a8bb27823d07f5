"""How a service's uvicorn server idles: a tick once a second while a client is connected, none while
nobody is, woken at once by a stop signal or a new connection.

uvicorn's `Server.main_loop` wakes every 0.1 s to look at `should_exit` (and refreshes the `Date`
header every tenth tick). On an idle service that was the busiest wake-up left: ten loop iterations a
second, about 0.15-0.2 % of a core per process on this machine (docs/benchmarks.md, idle, pass 3).
`quiet_main_loop()` replaces it, for every `uvicorn.Server` of the process (the CLI's, each `--workers`
child, a test's), with a loop that ticks once a second (the `Date` header's resolution: `on_tick` gets
counters that are multiples of 10, so it refreshes it on every tick) and that a stop signal wakes at
once, so SIGTERM / SIGINT stop the server as fast as before, and so does `should_exit` set directly (a
property on `Server` that wakes the loop). Everything `on_tick` decides (exit, `limit_max_requests`) is
unchanged.

With no connection open there is no response to date and no request to count, so the loop does not tick
at all then (at most every `IDLE_TICK_S`): the once-a-second tick was still the largest share of an idle
service's own CPU (py-spy, idle suite: 30-37 % of the stats and CRM processes' samples, `formatdate` and
the wait; docs/benchmarks.md, idle). A new connection refreshes the `Date` header at once, before its
first request is read (`_Connections.add`), and wakes the loop, which ticks every second again until the
last connection has closed. A server with a `callback_notify` (a process manager's liveness callback)
keeps the once-a-second tick.

It is applied by `backbone.api.create_service_app` (the app is imported before uvicorn starts its
main loop), so `uvicorn crm.main:app` keeps working as the launch command everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from types import FrameType
from typing import Any

TICK_S = 1.0  # the default tick; quiet_main_loop(tick_s=...) sets another
IDLE_TICK_S = 60.0  # the longest wait while no connection is open (a stop signal or a connection ends it)
_tick_s = TICK_S
_TICKS_PER_TICK = 10  # uvicorn counts 0.1 s ticks: on_tick refreshes the Date header when counter % 10 == 0
_WAKE = "_backbone_wake"


def refresh_date_header(server: Any) -> None:
    """The server's default headers with the current `Date` (what uvicorn's `on_tick` does every second)."""
    config = server.config
    date = [(b"date", formatdate(time.time(), usegmt=True).encode())] if config.date_header else []
    server.server_state.default_headers = date + config.encoded_headers


class _Connections(set[Any]):
    """The server's open connections (uvicorn's protocols add and discard themselves); a new one refreshes the
    `Date` header if the last tick was before this second, and wakes the main loop."""

    def __init__(self, items: Iterable[Any], on_add: Callable[[], None]) -> None:
        super().__init__(items)
        self._on_add = on_add

    def add(self, item: Any) -> None:
        super().add(item)
        self._on_add()


async def _main_loop(self: Any) -> None:
    loop = asyncio.get_running_loop()
    woken = asyncio.Event()
    setattr(self, _WAKE, lambda: loop.call_soon_threadsafe(woken.set))
    state = self.server_state
    dated = int(time.time())  # the second the Date header was last set (by a tick or a new connection)
    idle = False  # waiting with no connection open

    def connection_added() -> None:
        nonlocal dated
        if (now := int(time.time())) != dated:
            refresh_date_header(self)
            dated = now
        if idle:
            woken.set()

    if hasattr(state, "connections") and hasattr(self.config, "encoded_headers"):
        state.connections = _Connections(state.connections, connection_added)
    counter = 0
    should_exit = await self.on_tick(counter)
    while not should_exit:
        counter = (counter + _TICKS_PER_TICK) % 864000
        idle = not state.connections and getattr(self.config, "callback_notify", None) is None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(woken.wait(), max(_tick_s, IDLE_TICK_S) if idle else _tick_s)
        idle = False
        woken.clear()
        dated = int(time.time())
        should_exit = await self.on_tick(counter)


def _wake(server: Any) -> None:
    wake = getattr(server, _WAKE, None)
    if wake is not None:
        with contextlib.suppress(RuntimeError):  # the loop already closed
            wake()


def _waking(handle_exit: Callable[[Any, int, FrameType | None], None]) -> Callable[..., None]:
    def handle_exit_and_wake(self: Any, sig: int, frame: FrameType | None) -> None:
        handle_exit(self, sig, frame)
        _wake(self)

    handle_exit_and_wake.__wrapped__ = handle_exit  # type: ignore[attr-defined]
    return handle_exit_and_wake


_SHOULD_EXIT = "_backbone_should_exit"


def _get_should_exit(self: Any) -> bool:
    return bool(self.__dict__.get(_SHOULD_EXIT, False))


def _set_should_exit(self: Any, value: bool) -> None:
    """`server.should_exit = True` set directly (a test's server in a thread, an embedding program) wakes the
    loop as a stop signal does: with no connection open it would otherwise wait out `IDLE_TICK_S`."""
    self.__dict__[_SHOULD_EXIT] = value
    if value:
        _wake(self)


def quiet_main_loop(tick_s: float = TICK_S) -> None:
    """Make every uvicorn server of this process tick every `tick_s` (once a second; idempotent)."""
    global _tick_s
    _tick_s = tick_s
    try:
        from uvicorn.server import Server
    except ImportError:  # not served by uvicorn
        return
    if Server.main_loop is _main_loop or not hasattr(Server, "on_tick") or not hasattr(Server, "handle_exit"):
        return
    Server.main_loop = _main_loop  # type: ignore[method-assign]
    Server.handle_exit = _waking(Server.handle_exit)  # type: ignore[method-assign]
    Server.should_exit = property(_get_should_exit, _set_should_exit)  # type: ignore[assignment]
