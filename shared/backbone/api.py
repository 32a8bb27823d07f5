"""The parts every REST gateway shares: problem+json, correlation id, /healthz, /readyz, /metrics,
bearer-token verification (`backbone.auth`) and the hostile-input defences (docs/security.md):
a request body limit enforced while the body streams in (413), NUL characters refused in the path
and query (422), a correlation id that is not plain ASCII replaced by a fresh one, every endpoint's
values checked by `backbone.inputs`, and last-resort handlers that answer 4xx/503, never internals.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backbone import me, metrics, ops, tmf
from backbone.auth import TokenVerifier
from backbone.authz import api_routes, public, stamp_rules
from backbone.correlation import (
    new_correlation_id,
    reset_correlation_id,
    set_correlation_id,
)
from backbone.inputs import guard_router
from backbone.logging import configure_logging
from backbone.problems import DEFAULT_RETRY_AFTER_S, PROBLEM_JSON, install_problem_handlers
from backbone.runtime import ServiceRuntime
from backbone.serving import quiet_main_loop
from backbone.settings import ServiceSettings

#: What a client may send as X-Correlation-ID: visible ASCII, at most 128 characters.
_CORRELATION_ID_RE = re.compile(rb"[\x21-\x7e]{1,128}")
DEFAULT_MAX_BODY_BYTES = 1_048_576
#: What a browser on an allowed origin may send and read (`CORS_ALLOW_ORIGINS`; docs/console.md).
CORS_ALLOW_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "X-Correlation-ID", "Last-Event-ID")
CORS_EXPOSE_HEADERS = ("X-Correlation-ID", "Location", "Idempotent-Replayed", "Retry-After")
CORS_ALLOW_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def correlation_id_of(raw: bytes | None) -> str:
    """The client's id if it is plain visible ASCII (at most 128 characters), else a fresh one: a
    header is bytes, and bytes that are not text must not reach logs, envelopes or Kafka headers."""
    if raw is not None and _CORRELATION_ID_RE.fullmatch(raw):
        return raw.decode("ascii")
    return new_correlation_id()


class BodyTooLarge(HTTPException):
    """Raised from `receive` once the body passes the limit; FastAPI re-raises an HTTPException met while
    it reads the body, and the problem handlers answer 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


def _problem_bytes(status: int, title: str, detail: str, path: str) -> bytes:
    return json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail,
                       "instance": path.replace("\x00", "")}).encode()


async def _send_problem(send: Send, status: int, title: str, detail: str, path: str) -> None:
    """A problem from a raw middleware (a TMF `Error` on a path under /tmf-api: backbone.tmf)."""
    if tmf.is_tmf_path(path):
        body, media, status = tmf.error_bytes(status, title, detail), tmf.TMF_JSON, tmf.tmf_status(status)
    else:
        body, media = _problem_bytes(status, title, detail, path), PROBLEM_JSON
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", media.encode()), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """At most `limit` bytes of request body: a larger Content-Length is refused before anything is
    read; a body that streams in without one (or lies about it) is cut off once it passes the limit."""

    def __init__(self, app: ASGIApp, limit: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            detail = f"the request body is larger than {self.limit} bytes"
            await _send_problem(send, 413, "Content too large", detail, scope.get("path", ""))
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, limited_receive, send)


class RequestGuardMiddleware:
    """Refuse a NUL character in the path or the query string (PostgreSQL text cannot hold one)
    before any route sees it: 422 problem+json."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query: bytes = scope.get("query_string", b"")
            if "\x00" in scope.get("path", "") or b"\x00" in query or b"%00" in query.lower():
                detail = "NUL characters are not accepted in the path or query"
                await _send_problem(send, 422, "Invalid request", detail, scope.get("path", ""))
                return
        await self.app(scope, receive, send)


class CorrelationMiddleware:
    """Accept X-Correlation-ID (or mint one), expose it to logs/envelopes, and echo it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cid = correlation_id_of(next((v for k, v in scope["headers"] if k == b"x-correlation-id"), None))
        token = set_correlation_id(cid)
        started = time.perf_counter()
        status = 500

        async def send_with_header(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-correlation-id", cid.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_header)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            metrics.HTTP_REQUESTS.labels(scope["method"], path, str(status)).observe(time.perf_counter() - started)
            reset_correlation_id(token)


#: A path no route answers: `warm_up` asks it.
WARM_UP_PATH = "/.warm-up"


async def warm_up(app: FastAPI) -> int:
    """Do at startup what a service's first request would otherwise pay for (0.3-0.5 s measured on the
    SLA's at-risk list, issue 10's first render): FastAPI builds its routers' route state (dependants,
    parameter and response fields) on the first request that looks through them, so a GET of a path no
    route answers, sent to the router without the middleware (no metrics, no logs), builds all of it
    and runs no endpoint; anyio's event-loop backend, imported on the first dependency with a `yield`,
    is imported too. Returns the status it got (404)."""
    import anyio

    anyio.get_cancelled_exc_class()  # imports anyio's asyncio backend
    status = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])

    scope: Scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                    "scheme": "http", "path": WARM_UP_PATH, "raw_path": WARM_UP_PATH.encode(), "root_path": "",
                    "query_string": b"", "headers": [], "server": ("127.0.0.1", 0), "client": ("127.0.0.1", 0)}
    await app.router(scope, receive, send)
    return status


def create_app(
    *,
    title: str,
    version: str,
    description: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Any]],
    runtime_getter: Callable[[], ServiceRuntime[Any] | None],
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    retry_after_s: int = DEFAULT_RETRY_AFTER_S,
    cors_allow_origins: list[str] | tuple[str, ...] = (),
) -> FastAPI:
    # No OpenTelemetry: the suite's metrics are Prometheus' (/metrics) and its logs JSON lines, and FastAPI's native
    # telemetry, left on, asks OpenTelemetry's global providers on every request whether anything is configured
    # (an environment read among it: ~1.5 % of the CRM's CPU per order, issue 16).
    app = FastAPI(title=title, version=version, description=description, lifespan=lifespan,
                  telemetry={"tracing": False, "metrics": False, "logs": False})
    app.add_middleware(RequestGuardMiddleware)
    app.add_middleware(BodyLimitMiddleware, limit=max_body_bytes)
    app.add_middleware(CorrelationMiddleware)
    if cors_allow_origins:
        # Outermost: a preflight is answered before any other check, and every answer (a 413 or 422
        # of the guards included) carries the headers the browser needs to read it. Bearer tokens, not
        # cookies: no credentials mode.
        app.add_middleware(CORSMiddleware, allow_origins=list(cors_allow_origins),
                           allow_methods=list(CORS_ALLOW_METHODS), allow_headers=list(CORS_ALLOW_HEADERS),
                           expose_headers=list(CORS_EXPOSE_HEADERS), allow_credentials=False, max_age=600)
    install_problem_handlers(app, retry_after_s=retry_after_s)

    @app.get("/healthz", tags=["ops"], summary="Alive: the process serves and no background worker has died",
             dependencies=[public("liveness probe: the orchestrator asks without a token")])
    async def healthz() -> JSONResponse:
        runtime = runtime_getter()
        checks = runtime.liveness() if runtime else {}
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "dead", **({"checks": checks} if not ok else {})},
                            status_code=200 if ok else 503)

    @app.get("/readyz", tags=["ops"], summary="Database and Kafka reachable, background loops running",
             dependencies=[public("readiness probe: the orchestrator asks without a token")])
    async def readyz() -> JSONResponse:
        runtime = runtime_getter()
        checks = await runtime.readiness() if runtime else {"runtime": "not started"}
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics",
             dependencies=[public("Prometheus scrape: counters, no business data (NetworkPolicy: monitoring only)")])
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def create_service_app(
    *,
    settings: ServiceSettings,
    bootstrap: Callable[[Any], ServiceRuntime[Any]],
    routers: list[APIRouter],
    title: str,
    version: str,
    description: str,
    dev_routers: list[APIRouter] | None = None,
    hot_routers: list[APIRouter] | None = None,
) -> FastAPI:
    """The FastAPI app of one service: its runtime is built by `bootstrap` (the service's composition
    root) when the app starts, and lives as long as the app. Domain errors map to problem+json here.
    `dev_routers` (the dev token issuer) exist only where ENVIRONMENT is local or test. `hot_routers` (some of
    `routers`, `first_matched`) are matched before the others; the document keeps the declared order."""
    configure_logging(settings.service_name, settings.log_level)
    quiet_main_loop()  # uvicorn ticks once a second, not ten times (backbone.serving)
    verifier = TokenVerifier.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = bootstrap(settings)
        app.state.runtime = runtime
        await runtime.start()
        try:
            await warm_up(app)
        except Exception:  # the first request will meet it (and answer 4xx/503): not a reason not to start
            logging.getLogger("backbone.api").exception("warm-up failed")
        try:
            yield
        finally:
            await runtime.stop()
            await verifier.aclose()

    app = create_app(
        title=title, version=version, description=description, lifespan=lifespan,
        runtime_getter=lambda: getattr(app.state, "runtime", None),
        max_body_bytes=settings.max_request_body_bytes, retry_after_s=settings.db_unavailable_retry_after_s,
        cors_allow_origins=settings.cors_allow_origins,
    )
    app.state.settings = settings
    app.state.token_verifier = verifier
    declared = [me.router, ops.router, *routers, *(dev_routers or [] if settings.dev_environment else [])]
    for router in hot_routers or []:
        first_matched(app, router, declared)
    for router in declared:
        # Every operation's authorization rule in its OpenAPI operation (`x-authz`), decided first
        # (backbone.authz); tests/security/test_security_rbac.py fails on an operation without one.
        for route in stamp_rules(router.routes):
            logging.getLogger("backbone.authz").error(
                "%s %s declares no authorization rule (backbone.authz)", sorted(route.methods or ()), route.path)
        app.include_router(guard_router(router))
    stamp_rules(app.router.routes)  # the ops probes above
    return app


def first_matched(app: FastAPI, router: APIRouter, declared: list[APIRouter]) -> None:
    """Include `router` (one of `declared`) ahead of the others for matching, out of the OpenAPI document, which
    still lists it where it is declared (the router's second inclusion, the only one documented, is never matched).

    A request walks the app's routes in order, and FastAPI's included routers cost ~5 µs per route a request
    passes on this machine: the CRM's order POST passed 21 routes of 8 routers before its own, ~100 µs of CPU per
    order at load 6 (issue 16). Refused when a route declared before it could answer one of its paths (hoisting
    would change which route answers)."""
    if router not in declared:
        raise ValueError("a first-matched router must be one of the app's routers")
    own = list(api_routes(router.routes))
    before: list[Route] = [r for d in declared[:declared.index(router)] for r in api_routes(d.routes)]
    before += [r for r in app.router.routes if isinstance(r, Route)]  # the probes, /openapi.json, /docs
    for mine in own:
        for other in before:
            if _may_overlap(mine.path, other.path):
                raise ValueError(f"{mine.path} may not be matched before {other.path}, which could answer it")
    stamp_rules(router.routes)
    app.include_router(guard_router(router), include_in_schema=False)


def _may_overlap(a: str, b: str) -> bool:
    """Whether one URL path could match both route paths: segment by segment, equal or a parameter on either side
    (`/x/{a}/z` and `/x/y/{b}` both answer `/x/y/z`), or a `:path` parameter, which takes the rest. A segment that
    holds a parameter among text counts as a parameter (it may refuse a pair that cannot overlap, never the reverse)."""
    sa, sb = a.strip("/").split("/"), b.strip("/").split("/")
    for x, y in zip(sa, sb, strict=False):
        if x.endswith(":path}") or y.endswith(":path}"):
            return True
        if x != y and "{" not in x and "{" not in y:
            return False
    return len(sa) == len(sb)
