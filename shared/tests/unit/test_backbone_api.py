"""The gateway mechanics every service shares, on a tiny app in-process (no infrastructure)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Header
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
