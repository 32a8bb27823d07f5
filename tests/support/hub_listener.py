"""A real HTTP listener for hub tests and the hub benchmark: an asyncio HTTP/1.1 server on 127.0.0.1.

It records every callback (headers, raw body, parsed JSON, when it arrived), checks each signature
with the subscription's secret the way an integrator would (`backbone.hub.signing.verify`), and
answers as told: `behaviour(request_number) -> status` (200 by default), after `delay_s`, or never (`hang=True`: the
connection is accepted and left unanswered, a dead subscriber).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backbone.hub.signing import SignatureError, verify


@dataclass
class Callback:
    headers: dict[str, str]
    body: bytes
    json: dict[str, Any]
    received: float
    signature_ok: bool
    status: int

    @property
    def event_id(self) -> str:
        return self.headers.get("x-hub-event-id", "")


@dataclass
class Listener:
    behaviour: Callable[[int], int] = lambda n: 200
    hang: bool = False
    delay_s: float = 0.0  # each answer waits this long after the callback was recorded
    secret: str | None = None
    received: list[Callback] = field(default_factory=list)
    requests: int = 0
    port: int = 0
    _server: asyncio.base_events.Server | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/listener"

    async def start(self) -> Listener:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def accepted(self) -> list[Callback]:
        """The callbacks answered with a 2xx (what the hub counts as delivered)."""
        return [c for c in self.received if 200 <= c.status < 300]

    async def wait_for(self, predicate: Callable[[Listener], bool], within_s: float = 60.0) -> None:
        deadline = time.monotonic() + within_s
        while not predicate(self):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"listener: condition not met after {within_s}s ({len(self.received)} callbacks)")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(left, 0.5))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                headers: dict[str, str] = {}
                while (h := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests += 1
                if self.hang:
                    await asyncio.sleep(3600)
                    return
                status = self.behaviour(self.requests)
                ok = True
                if self.secret is not None:
                    try:
                        verify(self.secret, body, headers)
                    except SignatureError:
                        ok, status = False, 401
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = {}
                self.received.append(Callback(headers, body, parsed, time.time(), ok, status))
                self._arrived.set()
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n".encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()
