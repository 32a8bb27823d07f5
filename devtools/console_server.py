"""Serves the built ops console and the five gateways behind one origin (`make run`, the browser tests).

    GET /config.json            the console's runtime configuration, generated (services under /svc/)
    *   /svc/<service>/<path>   reverse proxy to that service's gateway, streamed both ways (the SLA
                                board's Server-Sent Events pass as they are written: no buffering)
    GET /assets/...             console/dist files (hashed names: cached for a year; gzip when the browser
                                takes it, compressed once per file and kept in memory)
    GET anything else           the file in console/dist, else index.html (the app's own routes)

One origin means no CORS: the browser only ever talks to this server. A console served elsewhere
needs `CORS_ALLOW_ORIGINS` on the gateways instead (docs/console.md). In a cluster the Ingress of
deploy/k8s/console.yaml plays this part.

    python -m devtools.console_server --port 8080 --service crm=http://127.0.0.1:8001 ...
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import mimetypes
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from devtools.infra import PROJECT_ROOT

DIST = PROJECT_ROOT / "console" / "dist"
#: The console's service names (console/src/config.ts) and the suite's gateways (`make run` ports).
DEFAULT_UPSTREAMS = {"crm": "http://127.0.0.1:8001", "eoms": "http://127.0.0.1:8002",
                     "sla": "http://127.0.0.1:8003", "notify": "http://127.0.0.1:8004",
                     "stats": "http://127.0.0.1:8005"}
#: Connection-level headers (RFC 9110 7.6.1) are never forwarded; Host is the upstream's own.
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te",
                        b"trailer", b"transfer-encoding", b"upgrade", b"host"})
#: Requests a proxy may send again when the upstream dropped the connection before answering.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
PROBLEM_JSON = "application/problem+json"
#: What is worth compressing (deploy/console/nginx.conf's gzip_types; its gzip_min_length too).
COMPRESSIBLE = frozenset({".js", ".css", ".html", ".json", ".svg", ".map", ".txt"})
GZIP_MIN_BYTES = 1024


@functools.lru_cache(maxsize=256)
def _gzipped(path: Path, mtime_ns: int, size: int) -> bytes:
    """A static file gzipped, once per version of it (path, mtime and size name the version)."""
    return gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header takes gzip (RFC 9110 12.5.3: `gzip;q=0` refuses it)."""
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            q = params.strip().removeprefix("q=").strip()
            return q == "" or q.strip("0.") != ""  # q=0, q=0.0, q=0.000: refused
    return False


def static_file(request: Request, target: Path, headers: Mapping[str, str]) -> Response:
    """A file of console/dist, gzipped when it is worth it and the browser takes it."""
    stat = target.stat()
    if target.suffix in COMPRESSIBLE and stat.st_size >= GZIP_MIN_BYTES \
            and accepts_gzip(request.headers.get("accept-encoding", "")):
        body = _gzipped(target, stat.st_mtime_ns, stat.st_size)
        media_type = mimetypes.guess_type(target.name)[0] or "text/plain"
        return Response(body if request.method != "HEAD" else b"", media_type=media_type,
                        headers={**headers, "Content-Encoding": "gzip", "Vary": "Accept-Encoding",
                                 "Content-Length": str(len(body))})
    return FileResponse(target, headers={**headers, "Vary": "Accept-Encoding"}
                        if target.suffix in COMPRESSIBLE else dict(headers))


def runtime_config(services: list[str], *, dev_login: bool = True,
                   oidc: dict[str, str] | None = None) -> dict[str, Any]:
    """What `/config.json` says (console/src/config.ts `RuntimeConfig`)."""
    return {"services": {s: f"/svc/{s}" for s in services}, "devLogin": dev_login, "oidc": oidc}


def oidc_from_env(env: Mapping[str, str]) -> dict[str, str] | None:
    """Single sign-on for the console when `CONSOLE_OIDC_ISSUER` (or the services' `OIDC_ISSUER`) and
    `CONSOLE_OIDC_CLIENT_ID` (or `OIDC_CLIENT_ID`) are set; None leaves it to the CRM's
    `GET /api/v1/auth/config`."""
    issuer = env.get("CONSOLE_OIDC_ISSUER") or env.get("OIDC_ISSUER")
    client_id = env.get("CONSOLE_OIDC_CLIENT_ID") or env.get("OIDC_CLIENT_ID")
    if not issuer or not client_id:
        return None
    return {"issuer": issuer, "clientId": client_id, "scope": env.get("CONSOLE_OIDC_SCOPE", "openid profile"),
            "rolesClaim": env.get("CONSOLE_OIDC_ROLES_CLAIM") or env.get("OIDC_ROLES_CLAIM", "roles")}


def content_security_policy(config: Mapping[str, Any], issuers: tuple[str, ...] = ()) -> str:
    """The policy deploy/console/nginx.conf sends, with the identity provider's origin as the only
    other place the console may call (the browser tests run the app under it: a violation is a
    console error there). `issuers`: providers the console may learn of from the CRM instead."""
    connect = ["'self'"]
    for issuer in ((config.get("oidc") or {}).get("issuer"), *issuers):
        if issuer:
            parts = urlsplit(issuer)
            origin = f"{parts.scheme}://{parts.netloc}"
            if origin not in connect:
                connect.append(origin)
    return ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
            f"connect-src {' '.join(connect)}; frame-ancestors 'none'; base-uri 'self'")


def _problem(status: int, title: str, detail: str, instance: str) -> JSONResponse:
    return JSONResponse({"type": "about:blank", "title": title, "status": status, "detail": detail,
                         "instance": instance}, status_code=status, media_type=PROBLEM_JSON)


class UpstreamResponse(StreamingResponse):
    """The upstream's answer, relayed chunk by chunk as it arrives. The upstream connection is closed
    as soon as the browser goes away, even while the upstream is silent (an idle event stream)."""

    def __init__(self, upstream: httpx.Response, raw_headers: list[tuple[bytes, bytes]]) -> None:
        super().__init__(upstream.aiter_raw(), status_code=upstream.status_code)
        self.upstream = upstream
        self.raw_headers = raw_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def relay() -> None:
                    with contextlib.suppress(OSError):  # the browser went away mid-write
                        await self.stream_response(send)
                    group.cancel_scope.cancel()

                async def watch() -> None:
                    await self.listen_for_disconnect(receive)
                    group.cancel_scope.cancel()

                group.start_soon(relay)
                group.start_soon(watch)
        finally:
            await self.upstream.aclose()


def create_app(dist: Path, upstreams: Mapping[str, str], config: Mapping[str, Any],
               issuers: tuple[str, ...] = ()) -> Starlette:
    dist = dist.resolve()
    upstreams = {name: url.rstrip("/") for name, url in upstreams.items()}
    # No read timeout: the event stream stays open for hours; connect and pool waits are bounded.
    timeout = httpx.Timeout(connect=5.0, read=None, write=30.0, pool=10.0)
    # Idle pooled connections are dropped after 2 s, before uvicorn closes its side (timeout_keep_alive 5 s):
    # a request sent on a connection the service is closing at that moment fails without an answer.
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=40, keepalive_expiry=2.0)
    state: dict[str, httpx.AsyncClient] = {}
    page_headers = {"Cache-Control": "no-cache", "Content-Security-Policy": content_security_policy(config, issuers),
                    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False, trust_env=False) as c:
            state["client"] = c
            yield

    async def config_json(request: Request) -> Response:
        return JSONResponse(dict(config), headers={"Cache-Control": "no-store"})

    async def proxy(request: Request) -> Response:
        service = request.path_params["service"]
        base = upstreams.get(service)
        if base is None:
            return _problem(404, "Not found", f"no service named {service!r} behind this console", request.url.path)
        prefix = f"/svc/{service}"
        path = request.url.path[len(prefix):] or "/"
        url = base + path + (f"?{request.url.query}" if request.url.query else "")
        headers = [(k, v) for k, v in request.headers.raw if k.lower() not in HOP_BY_HOP]
        client_host = request.client.host if request.client else ""
        headers += [(b"x-forwarded-for", client_host.encode()), (b"x-forwarded-proto", request.url.scheme.encode()),
                    (b"x-forwarded-host", request.headers.get("host", "").encode()),
                    (b"x-forwarded-prefix", prefix.encode())]
        has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
        client = state["client"]
        outgoing = client.build_request(request.method, url, headers=headers,
                                        content=request.stream() if has_body else None)
        try:
            upstream = await client.send(outgoing, stream=True)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            # A pooled connection the service closed as we reused it: a request without a body that may be
            # repeated (GET, HEAD, OPTIONS) goes once more, on a new connection, as a reverse proxy does.
            if has_body or request.method not in IDEMPOTENT:
                return _problem(502, "Bad gateway", f"{service} did not answer: {type(exc).__name__}",
                                request.url.path)
            try:
                upstream = await client.send(client.build_request(request.method, url, headers=headers), stream=True)
            except httpx.HTTPError as again:
                return _problem(502, "Bad gateway", f"{service} did not answer: {type(again).__name__}",
                                request.url.path)
        except httpx.HTTPError as exc:
            return _problem(502, "Bad gateway", f"{service} did not answer: {type(exc).__name__}", request.url.path)
        raw: list[tuple[bytes, bytes]] = []
        for key, value in upstream.headers.raw:
            k = key.lower()
            if k in HOP_BY_HOP:
                continue
            if k == b"location" and value.startswith(b"/"):
                value = prefix.encode() + value  # the gateway's own path, seen through this prefix
            raw.append((k, value))
        if upstream.headers.get("content-type", "").startswith("text/event-stream") \
                and "x-accel-buffering" not in upstream.headers:
            raw.append((b"x-accel-buffering", b"no"))  # a proxy in front of this one must not buffer either
        return UpstreamResponse(upstream, raw)

    async def static(request: Request) -> Response:
        rel = request.path_params.get("path", "")
        target = (dist / rel).resolve()
        if rel and target.is_file() and target.is_relative_to(dist) and target.name != ".gs-build.sha256":
            if target.is_relative_to(dist / "assets"):
                return static_file(request, target, {"Cache-Control": "public, max-age=31536000, immutable",
                                                     "X-Content-Type-Options": "nosniff"})
            return static_file(request, target, page_headers)
        if rel.startswith("assets/") or rel.startswith("svc/"):
            return Response("not found", status_code=404, media_type="text/plain")
        index = dist / "index.html"
        if not index.is_file():
            return Response(f"the console is not built: {index} is missing (python -m devtools.console_build)",
                            status_code=503, media_type="text/plain")
        # The app's own routes (/board, /tickets/…): the app shell, never cached (it names the bundle).
        return static_file(request, index, page_headers)

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(lifespan=lifespan, routes=[
        Route("/config.json", config_json, methods=["GET", "HEAD"]),
        Route("/svc/{service}", proxy, methods=methods),
        Route("/svc/{service}/{rest:path}", proxy, methods=methods),
        Route("/{path:path}", static, methods=["GET", "HEAD"]),
    ])


def _parse_services(values: list[str]) -> dict[str, str]:
    upstreams = dict(DEFAULT_UPSTREAMS)
    for item in values:
        name, sep, url = item.partition("=")
        if not sep or not url.startswith(("http://", "https://")):
            raise SystemExit(f"--service takes name=http://host:port, not {item!r}")
        upstreams[name] = url
    return upstreams


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve console/dist and proxy /svc/<service>/ to the gateways")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("CONSOLE_PORT", "8080")))
    parser.add_argument("--dist", type=Path, default=DIST)
    parser.add_argument("--service", action="append", default=[], metavar="NAME=URL",
                        help="a gateway (default: crm, eoms, sla, notify, stats on 127.0.0.1:8001-8005)")
    parser.add_argument("--no-dev-login", action="store_true", help="hide the persona picker (config.json)")
    args = parser.parse_args()
    upstreams = _parse_services(args.service)
    config = runtime_config(list(upstreams), dev_login=not args.no_dev_login, oidc=oidc_from_env(os.environ))
    import uvicorn

    issuers = tuple(i for i in (os.environ.get("CONSOLE_OIDC_ISSUER"), os.environ.get("OIDC_ISSUER")) if i)
    uvicorn.run(create_app(args.dist, upstreams, config, issuers), host=args.host, port=args.port,
                log_level="warning", access_log=False, lifespan="on")


if __name__ == "__main__":
    main()
