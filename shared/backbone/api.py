"""The parts every REST gateway shares: problem+json, correlation id, /healthz, /readyz, /metrics."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backbone import metrics
from backbone.correlation import (
    new_correlation_id,
    reset_correlation_id,
    set_correlation_id,
)
from backbone.logging import configure_logging
from backbone.problems import install_problem_handlers
from backbone.runtime import ServiceRuntime
from backbone.settings import ServiceSettings


class CorrelationMiddleware:
    """Accept X-Correlation-ID (or mint one), expose it to logs/envelopes, and echo it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode() for k, v in scope["headers"] if k == b"x-correlation-id"), None)
        cid = (incoming or new_correlation_id())[:128]
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


def create_app(
    *,
    title: str,
    version: str,
    description: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Any]],
    runtime_getter: Callable[[], ServiceRuntime[Any] | None],
) -> FastAPI:
    app = FastAPI(title=title, version=version, description=description, lifespan=lifespan)
    app.add_middleware(CorrelationMiddleware)
    install_problem_handlers(app)

    @app.get("/healthz", tags=["ops"], summary="Alive: the process serves and no background worker has died")
    async def healthz() -> JSONResponse:
        runtime = runtime_getter()
        checks = runtime.liveness() if runtime else {}
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "dead", **({"checks": checks} if not ok else {})},
                            status_code=200 if ok else 503)

    @app.get("/readyz", tags=["ops"], summary="Database and Kafka reachable, background loops running")
    async def readyz() -> JSONResponse:
        runtime = runtime_getter()
        checks = await runtime.readiness() if runtime else {"runtime": "not started"}
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics")
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
) -> FastAPI:
    """The FastAPI app of one service: its runtime is built by `bootstrap` (the service's composition
    root) when the app starts, and lives as long as the app. Domain errors map to problem+json here."""
    configure_logging(settings.service_name, settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = bootstrap(settings)
        app.state.runtime = runtime
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = create_app(
        title=title, version=version, description=description, lifespan=lifespan,
        runtime_getter=lambda: getattr(app.state, "runtime", None),
    )
    app.state.settings = settings
    for router in routers:
        app.include_router(router)
    return app
