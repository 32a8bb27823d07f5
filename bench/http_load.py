"""A lean HTTP/1.1 load generator on asyncio streams (keep-alive, pre-encoded requests).

httpx costs about a millisecond of CPU per request, which on a 2-core machine steals the CPU the
services under test need; this client costs a few tens of microseconds. Two modes:
- `open_loop(rate, seconds)`: requests start on a fixed schedule, whatever the replies do (a slow
  server does not slow the offered load: the latency includes the queueing, as users see it);
- `closed_loop(clients, seconds)`: N clients, each sending its next request when the last returns.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse


@dataclass
class Reply:
    sent: float  # time.time() when the request was written
    received: float
    status: int
    body: bytes


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, raw: bytes) -> Reply:
        reused = self.writer is not None and not self.writer.is_closing()
        try:
            return await self._exchange(raw)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            if not reused:
                raise
            # The server closed an idle keep-alive connection (uvicorn: after 5 s). Safe to resend:
            # nothing was read, and every request carries its own Idempotency-Key anyway.
            self.close()
            self.writer = None
            return await self._exchange(raw)

    async def _exchange(self, raw: bytes) -> Reply:
        if self.writer is None or self.writer.is_closing():
            await self.open()
        assert self.reader is not None and self.writer is not None
        sent = time.time()
        self.writer.write(raw)
        status_line = await self.reader.readline()
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        close = False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            lname = name.strip().lower()
            if lname == b"content-length":
                length = int(value)
            elif lname == b"connection" and value.strip().lower() == b"close":
                close = True
        body = await self.reader.readexactly(length) if length else b""
        if close:
            self.writer.close()
        return Reply(sent, time.time(), status, body)

    def close(self) -> None:
        if self.writer:
            self.writer.close()


def build_post(url: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> Callable[[], bytes]:
    """Returns a function that makes one request's bytes (fresh per call when headers need it)."""
    u = urlparse(url)
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    )
    counter = iter(range(10**12))

    def make() -> bytes:
        return (head + f"Idempotency-Key: bench-{time.time_ns()}-{next(counter)}\r\n\r\n").encode() + payload

    return make


async def open_loop(url: str, make_request: Callable[[], bytes], rate: float, seconds: float,
                    max_connections: int = 256) -> list[Reply]:
    u = urlparse(url)
    # LIFO: the busiest connections stay warm, the rest may idle out and reconnect.
    pool: asyncio.LifoQueue[Connection] = asyncio.LifoQueue()
    for _ in range(max_connections):
        pool.put_nowait(Connection(u.hostname or "127.0.0.1", u.port or 80))
    replies: list[Reply] = []

    async def one(scheduled: float) -> None:
        conn = await pool.get()
        try:
            reply = await conn.request(make_request())
            reply.sent = scheduled  # queueing in the client counts as latency (open loop)
            replies.append(reply)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            conn.close()
            conn.writer = None
            replies.append(Reply(scheduled, time.time(), 0, b""))
        finally:
            pool.put_nowait(conn)

    start = time.perf_counter()
    wall0 = time.time()
    tasks = []
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(wall0 + i / rate)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait().close()
    return replies


async def closed_loop(url: str, make_request: Callable[[], bytes], clients: int, seconds: float) -> list[Reply]:
    u = urlparse(url)
    replies: list[Reply] = []
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        conn = Connection(u.hostname or "127.0.0.1", u.port or 80)
        try:
            while time.perf_counter() < deadline:
                replies.append(await conn.request(make_request()))
        finally:
            conn.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return replies
