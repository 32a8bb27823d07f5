"""The gateway mechanics every service shares, on a tiny app in-process (no infrastructure)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from backbone.api import create_app
from backbone.auth import Principal, decode_token, issue_token, require
from backbone.correlation import current_correlation_id
from backbone.problems import Problem

SECRET = "unit-test-secret-0123456789abcdef"


@asynccontextmanager
async def no_runtime(app: FastAPI) -> AsyncIterator[None]:
    yield


class Body(BaseModel):
    name: str = Field(min_length=2)
    count: int = Field(ge=1)


def make_app() -> FastAPI:
    app = create_app(title="t", version="0", description="d", lifespan=no_runtime, runtime_getter=lambda: None)

    @app.post("/things")
    async def create(body: Body, authorization: Annotated[str | None, Header()] = None) -> dict[str, str | None]:
        principal: Principal = decode_token(authorization, secret=SECRET)
        require(principal, "admin")
        return {"by": principal.subject, "correlation_id": current_correlation_id()}

    @app.get("/conflict")
    async def conflict() -> None:
        raise Problem(409, "Illegal transition", "order is closed")

    return app


client = TestClient(make_app())


def _auth(*roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token('u1', list(roles), secret=SECRET)}"}


def test_validation_errors_are_problem_json_naming_each_field():
    r = client.post("/things", json={"name": "x", "count": 0}, headers=_auth("admin"))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert {e["field"] for e in body["errors"]} == {"name", "count"}
    assert body["instance"] == "/things" and body["status"] == 422


def test_missing_bad_and_insufficient_tokens():
    r = client.post("/things", json={"name": "xy", "count": 1})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = client.post("/things", json={"name": "xy", "count": 1}, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and "invalid token" in r.json()["detail"]
    r = client.post("/things", json={"name": "xy", "count": 1}, headers=_auth("account_manager"))
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    wrong_key = {"Authorization": f"Bearer {issue_token('u1', ['admin'], secret='another-secret-0123456789abcdef')}"}
    assert client.post("/things", json={"name": "xy", "count": 1}, headers=wrong_key).status_code == 401


def test_correlation_id_is_accepted_exposed_and_returned():
    r = client.post("/things", json={"name": "xy", "count": 1}, headers={**_auth("admin"), "X-Correlation-ID": "c-42"})
    assert r.status_code == 200 and r.json()["correlation_id"] == "c-42" and r.headers["x-correlation-id"] == "c-42"
    minted = client.get("/healthz").headers["x-correlation-id"]
    assert len(minted) == 32


def test_domain_conflicts_and_unknown_routes_are_problems():
    r = client.get("/conflict")
    assert r.status_code == 409 and r.json()["title"] == "Illegal transition"
    r = client.get("/nowhere")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_readyz_without_a_runtime_is_503_and_metrics_are_exposed():
    assert client.get("/readyz").status_code == 503
    assert "http_request_seconds" in client.get("/metrics").text



_ran: list[str] = []


def _dependency() -> str:
    _ran.append("dependency")
    return "d"


def _app_with_a_router() -> FastAPI:
    app = create_app(title="t", version="0", description="d", lifespan=no_runtime, runtime_getter=lambda: None)
    router = APIRouter(prefix="/api/v1")

    @router.get("/items")
    async def items(d: Annotated[str, Depends(_dependency)], limit: int = 10) -> dict[str, int]:
        _ran.append("endpoint")
        return {"limit": limit}

    app.include_router(router)
    return app


def test_warm_up_builds_every_router_before_the_first_request_and_runs_no_endpoint(monkeypatch):
    """FastAPI builds an included router's route state (dependants, fields) on the first request that
    looks through it; `warm_up` (run by create_service_app at startup) makes that happen before any
    client asks, without running an endpoint or a dependency."""
    import asyncio

    import fastapi.routing

    from backbone.api import warm_up

    built: list[str] = []
    real = fastapi.routing.get_dependant

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        built.append(kwargs.get("path", ""))
        return real(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "get_dependant", counting)

    cold = _app_with_a_router()
    built.clear()
    assert TestClient(cold).get("/api/v1/items?limit=3").json() == {"limit": 3}
    assert built, "FastAPI no longer builds route state on the first request: warm_up may be unneeded"

    warm = _app_with_a_router()
    built.clear()
    _ran.clear()
    assert asyncio.run(warm_up(warm)) == 404
    assert "/api/v1/items" in built and _ran == []  # built, and nothing ran
    built.clear()
    assert TestClient(warm).get("/api/v1/items?limit=3").json() == {"limit": 3}
    assert built == [] and _ran == ["dependency", "endpoint"]  # the first request found it all built
