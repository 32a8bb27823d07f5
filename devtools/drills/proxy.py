"""A TCP proxy that can cut its traffic: a network partition between ONE process and a server.

`TcpProxy(listen_port, upstream)` forwards every connection accepted on `127.0.0.1:listen_port` to
`upstream`. `cut()` blackholes it as a partition does, with no reset and no refusal: bytes in
flight either way are held (not delivered, not dropped: TCP would retransmit them), connections
stay open and silent, and a new connection is accepted but never joined upstream, so the client
waits out its own timeouts; `heal()` lets everything held flow again, in order. A connection the
client closed while cut is closed upstream once healed.

For Kafka the proxy must be what the broker *advertises*, or the client, once bootstrapped, would
read the broker's own address from the metadata and go around it: the drill profile's broker has a
second listener (`PROXIED`, `devtools.infra.drill_proxy_ports`) advertised at the proxy's port, so
a client bootstrapped at the proxy reaches the broker only through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time


class TcpProxy:
    def __init__(self, listen_port: int, upstream: tuple[str, int], *, host: str = "127.0.0.1") -> None:
        self.host = host
        self.listen_port = listen_port
        self.upstream = upstream
        self._open = asyncio.Event()
        self._open.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0  # accepted since the start
        self.cut_s = 0.0  # total time cut

    @property
    def address(self) -> str:
        return f"{self.host}:{self.listen_port}"

    @property
    def is_cut(self) -> bool:
        return not self._open.is_set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._serve, self.host, self.listen_port, reuse_address=True)
        return self

    def cut(self) -> None:
        if self._open.is_set():
            self._open.clear()
            self._cut_at = time.monotonic()

    def heal(self) -> None:
        if not self._open.is_set():
            self.cut_s += time.monotonic() - self._cut_at
            self._open.set()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._join(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _join(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self._open.wait()  # accepted while cut: silence until healed
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            except OSError:
                return  # upstream refused: so does the proxy (the client's connection is closed)
            try:
                await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
            finally:
                up_writer.close()
        finally:
            writer.close()

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while True:
                await self._open.wait()
                data = await src.read(65536)
                await self._open.wait()  # read just before the cut: held with the rest
                if not data:
                    break
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            dst.close()  # one side ended: the other's read ends too
