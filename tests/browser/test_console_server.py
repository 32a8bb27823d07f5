"""devtools.console_server on loopback, against a stand-in gateway (no infrastructure, no browser): the
app shell and its routes, the generated config.json, and the /svc/<service>/ reverse proxy that
streams (an event stream's first event arrives while the upstream is still writing)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from devtools.console_server import create_app, runtime_config
from devtools.infra import free_port

CLOSED: list[float] = []  # when the stand-in's event stream saw its client go away
FIRST_SEEN = threading.Event()  # the test has read the stream's first event through the proxy


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse({"method": request.method, "path": request.url.path, "query": request.url.query,
                         "body": body.decode(), "headers": {k: v for k, v in request.headers.items()}},
                        status_code=201, headers={"Location": "/api/v1/orders/ord_1", "X-Correlation-ID": "c-9"})


async def stream(request: Request) -> Response:
    async def events() -> AsyncIterator[bytes]:
        try:
            yield b"id: 1\nevent: sla.breached\ndata: {}\n\n"
            # Nothing more, and no end, until the test has read the first event through the proxy: a
            # proxy that waits for the end (or for more bytes) before relaying never delivers it, and the
            # test's read times out. Then silent until the client goes away (an idle event stream).
            while not FIRST_SEEN.is_set():
                await asyncio.sleep(0.02)
            yield b"id: 2\nevent: sla.escalated\ndata: {}\n\n"
            await asyncio.Event().wait()
        finally:
            CLOSED.append(time.monotonic())

    return StreamingResponse(events(), media_type="text/event-stream")


class Server:
    def __init__(self, app: object) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",  # type: ignore[arg-type]
                                                    lifespan="on", timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    dist = tmp_path_factory.mktemp("dist")
    (dist / "index.html").write_text("<!doctype html><div id=root></div>")
    (dist / "assets").mkdir()
    (dist / "assets" / "app-abc123.js").write_text("console.log(1)")
    (dist / "assets" / "big-def456.js").write_text("export const rows = [" + ",".join(["'row'"] * 2000) + "];")
    (tmp_path_factory.getbasetemp() / "secret.txt").write_text("not served")
    upstream = Starlette(routes=[Route("/api/v1/stream", stream), Route("/{p:path}", echo, methods=["GET", "POST"])])
    with Server(upstream) as gateway:
        dead = f"http://127.0.0.1:{free_port()}"
        app = create_app(dist, {"crm": gateway.url, "sla": gateway.url, "notify": dead},
                         runtime_config(["crm", "sla", "notify"]))
        with Server(app) as server:
            yield server.url


def test_the_app_shell_answers_its_own_routes_and_assets_are_immutable(console):
    for path in ("/", "/board", "/tickets/tk_1", "/admin/policies"):
        r = httpx.get(console + path)
        assert r.status_code == 200 and "id=root" in r.text, path
        assert r.headers["cache-control"] == "no-cache"
        # the policy of deploy/console/nginx.conf: the browser tests run the app under it
        assert "script-src 'self';" in r.headers["content-security-policy"]
    asset = httpx.get(console + "/assets/app-abc123.js")
    assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
    assert httpx.get(console + "/assets/gone-123.js").status_code == 404
    assert "not served" not in httpx.get(console + "/..%2Fsecret.txt").text


def test_assets_are_gzipped_for_a_browser_that_takes_it(console):
    plain = httpx.get(console + "/assets/big-def456.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    for accept in ("gzip, deflate, br, zstd", "br;q=1, gzip;q=0.5"):
        packed = httpx.get(console + "/assets/big-def456.js", headers={"Accept-Encoding": accept})
        assert packed.headers["content-encoding"] == "gzip" and packed.headers["vary"] == "Accept-Encoding"
        assert int(packed.headers["content-length"]) < len(plain.content) / 10  # the wire size, compressed
        assert packed.text == plain.text and "immutable" in packed.headers["cache-control"]
        assert packed.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    refused = httpx.get(console + "/assets/big-def456.js", headers={"Accept-Encoding": "gzip;q=0, br"})
    assert "content-encoding" not in refused.headers and refused.content == plain.content
    tiny = httpx.get(console + "/assets/app-abc123.js", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in tiny.headers and tiny.text == "console.log(1)"  # not worth it under 1 kB


def test_config_json_points_every_service_at_this_origin(console):
    r = httpx.get(console + "/config.json")
    assert r.json() == {"services": {"crm": "/svc/crm", "sla": "/svc/sla", "notify": "/svc/notify"},
                        "devLogin": True, "oidc": None}
    assert r.headers["cache-control"] == "no-store"


def test_the_proxy_forwards_method_path_query_body_and_headers(console):
    r = httpx.post(console + "/svc/crm/api/v1/orders?x=1&y=%E5%A4%A9", content=b'{"a":1}', headers={
        "Authorization": "Bearer t", "Idempotency-Key": "k-1", "Content-Type": "application/json",
        "X-Correlation-ID": "c-9"})
    assert r.status_code == 201
    seen = r.json()
    assert (seen["method"], seen["path"], seen["query"], seen["body"]) == \
        ("POST", "/api/v1/orders", "x=1&y=%E5%A4%A9", '{"a":1}')
    assert seen["headers"]["authorization"] == "Bearer t" and seen["headers"]["idempotency-key"] == "k-1"
    assert seen["headers"]["x-forwarded-prefix"] == "/svc/crm"
    # the gateway's own path, seen through the prefix
    assert r.headers["location"] == "/svc/crm/api/v1/orders/ord_1"
    assert r.headers["x-correlation-id"] == "c-9"


def test_an_event_stream_is_relayed_as_it_is_written(console):
    # No clock in the verdict (a loaded machine only makes it slower): the stand-in writes its second event
    # only once the first has come through the proxy, and never ends by itself.
    with httpx.stream("GET", console + "/svc/sla/api/v1/stream", timeout=30) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        chunks = r.iter_raw()
        first = next(chunks)  # a buffering proxy never gets here: the read times out
        FIRST_SEEN.set()
        assert b"sla.breached" in first and b"sla.escalated" not in first
        assert b"sla.escalated" in next(chunks)
        assert not CLOSED
    # the browser went away: the proxy closes the upstream stream (no subscriber left behind), which
    # would otherwise stay open for ever
    deadline = time.monotonic() + 30
    while not CLOSED and time.monotonic() < deadline:
        time.sleep(0.05)
    assert CLOSED, "the upstream stream outlived the browser's connection"


def test_an_unknown_or_unreachable_service_is_a_problem(console):
    missing = httpx.get(console + "/svc/billing/api/v1/x")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    down = httpx.get(console + "/svc/notify/readyz")
    assert down.status_code == 502 and down.json()["status"] == 502


class DropsFirstConnection:
    """A gateway on a raw socket that reads a request on each new connection; the first connection it closes
    without an answer (as a service closing an idle keep-alive connection the proxy was reusing), the others
    get a 200. It counts the requests it read, by method."""

    def __init__(self) -> None:
        self.port = free_port()
        self.seen: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.seen.append(head.split(b" ", 1)[0].decode())
        if len(self.seen) > 1:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n"
                         b"connection: close\r\n\r\n{\"ok\":true}")
            await writer.drain()
        writer.close()

    def __enter__(self) -> DropsFirstConnection:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", self.port), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_a_get_the_upstream_dropped_unanswered_goes_once_more_and_a_post_does_not(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html>")
    for method, expected, requests in (("GET", 200, ["GET", "GET"]), ("POST", 502, ["POST"])):
        with DropsFirstConnection() as gateway:
            app = create_app(tmp_path, {"crm": f"http://127.0.0.1:{gateway.port}"}, runtime_config(["crm"]))
            with Server(app) as server:
                r = httpx.request(method, server.url + "/svc/crm/api/v1/orders",
                                  content=b'{"a":1}' if method == "POST" else None)
            assert r.status_code == expected, (method, r.text)
            assert gateway.seen == requests, "a GET is sent once more on a new connection; a POST never twice"
