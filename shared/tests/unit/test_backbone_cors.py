"""CORS_ALLOW_ORIGINS: off by default (one origin locally and in deploy/), an allow-list when the console
is served from another origin (docs/console.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI, Response
from fastapi.testclient import TestClient
from pydantic import ValidationError

from backbone.api import create_app
from backbone.settings import ServiceSettings

CONSOLE = "https://ops.example.cn"


@asynccontextmanager
async def no_runtime(app: FastAPI) -> AsyncIterator[None]:
    yield


def make_client(origins: list[str]) -> TestClient:
    app = create_app(title="t", version="0", description="d", lifespan=no_runtime, runtime_getter=lambda: None,
                     max_body_bytes=1024, cors_allow_origins=origins)

    @app.post("/things", status_code=201)
    async def create(response: Response) -> dict[str, str]:
        response.headers["Location"] = "/things/1"
        return {"id": "1"}

    return TestClient(app)


def test_no_cors_headers_by_default():
    client = make_client([])
    r = client.post("/things", json={}, headers={"Origin": CONSOLE})
    assert r.status_code == 201
    assert "access-control-allow-origin" not in r.headers
    pre = client.options("/things", headers={"Origin": CONSOLE, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in pre.headers


def test_an_allowed_origin_gets_the_preflight_and_reads_the_exposed_headers():
    client = make_client([CONSOLE])
    pre = client.options("/things", headers={
        "Origin": CONSOLE, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key, x-correlation-id",
    })
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == CONSOLE
    allowed = {h.strip().lower() for h in pre.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key", "x-correlation-id", "last-event-id"} <= allowed
    assert "access-control-allow-credentials" not in pre.headers

    r = client.post("/things", json={}, headers={"Origin": CONSOLE, "X-Correlation-ID": "c-1"})
    assert r.status_code == 201
    assert r.headers["access-control-allow-origin"] == CONSOLE
    exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
    assert {"x-correlation-id", "location"} <= exposed
    assert r.headers["x-correlation-id"] == "c-1"


def test_another_origin_is_refused_and_guard_answers_carry_the_headers():
    client = make_client([CONSOLE])
    pre = client.options("/things", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 400
    assert "access-control-allow-origin" not in pre.headers
    # a 413 from the body limit is readable by the console (it shows the problem, not a CORS error)
    big = client.post("/things", content=b"x" * 4096, headers={"Origin": CONSOLE, "Content-Type": "application/json"})
    assert big.status_code == 413
    assert big.headers["access-control-allow-origin"] == CONSOLE


@pytest.mark.parametrize(("raw", "expected"), [
    ("", []),
    ("https://ops.example.cn", ["https://ops.example.cn"]),
    ("https://ops.example.cn/, http://127.0.0.1:5173", ["https://ops.example.cn", "http://127.0.0.1:5173"]),
    ('["https://ops.example.cn"]', ["https://ops.example.cn"]),
])
def test_the_setting_reads_a_comma_list_or_json(monkeypatch, raw, expected):
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", raw)
    assert ServiceSettings(environment="test").cors_allow_origins == expected


@pytest.mark.parametrize("raw", ["*", "https://ops.example.cn/console", "ops.example.cn", '["ftp://x"]'])
def test_the_setting_refuses_what_is_not_an_origin(monkeypatch, raw):
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", raw)
    with pytest.raises(ValidationError, match="CORS_ALLOW_ORIGINS"):
        ServiceSettings(environment="test")
