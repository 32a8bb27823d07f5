"""Hostile input answers 4xx (or 503 for a missing database), never 500: the backbone's defences on a
tiny in-process app built like a service's (docs/security.md, "Hostile input")."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from backbone.api import create_app
from backbone.db import make_engine
from backbone.inputs import TimezoneName, guard_router, timezone_name
from backbone.problems import status_of_database_error


@asynccontextmanager
async def no_runtime(app: FastAPI) -> AsyncIterator[None]:
    yield


class Item(BaseModel):
    name: str
    price: float
    amount: Decimal = Decimal(0)
    at: datetime | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class Person(BaseModel):
    timezone: TimezoneName


class FakeOrig(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__("value '13812345678' too long for type character varying(40)")
        self.sqlstate = sqlstate


router = APIRouter()


@router.get("/tmf")
async def tmf_list(offset: Annotated[int, Query(ge=0)] = 0, since: datetime | None = None,
                   ratio: float | None = None, q: str | None = None) -> dict[str, Any]:
    return {"offset": offset}


@router.post("/items")
async def create_item(body: Item) -> dict[str, str]:
    return {"name": body.name}


@router.post("/people")
def create_person(body: Person) -> dict[str, str]:
    return {"timezone": body.timezone}


@router.post("/raw")
async def raw(request: Request) -> dict[str, int]:
    return {"size": len(await request.body())}


@router.get("/db/{sqlstate}")
async def db_error(sqlstate: str) -> None:
    error_class = {"22": sa_exc.DataError, "23": sa_exc.IntegrityError, "08": sa_exc.OperationalError,
                   "42": sa_exc.ProgrammingError}[sqlstate[:2]]
    raise error_class("INSERT INTO crm.customers ...", {"phone": "13812345678"}, FakeOrig(sqlstate))


DEAD_ENGINE = make_engine("postgresql+asyncpg://postgres@127.0.0.1:9/postgres", connect_timeout_s=2)


@router.get("/down")
async def database_down() -> None:
    async with DEAD_ENGINE.connect() as conn:
        await conn.execute(text("SELECT 1"))


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret internals: /etc/passwd 13812345678")


def make_app() -> FastAPI:
    app = create_app(title="t", version="0", description="d", lifespan=no_runtime, runtime_getter=lambda: None,
                     max_body_bytes=64 * 1024, retry_after_s=7)
    app.include_router(guard_router(router))
    return app


client = TestClient(make_app(), raise_server_exceptions=False)


def problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert "Traceback" not in r.text and "13812345678" not in r.text and "INSERT" not in r.text
    return body


@pytest.mark.parametrize("params", [
    {"offset": str(2**64)}, {"offset": str(2**63)}, {"offset": "9" * 400},
    {"ratio": "inf"}, {"ratio": "nan"}, {"ratio": "1e400"}, {"ratio": "-Infinity"},
    {"since": "0001-01-01T00:00:00+01:00"}, {"since": "9999-12-31T23:59:59-01:00"}, {"since": "0001-01-01"},
    {"q": "a\x00b"},
])
def test_hostile_query_values_are_422(params: dict[str, str]) -> None:
    problem(client.get("/tmf", params=params), 422)


def test_sane_query_values_pass() -> None:
    r = client.get("/tmf", params={"offset": str(2**63 - 1), "since": "2026-01-01T00:00:00+08:00", "ratio": "0.5"})
    assert r.status_code == 200


@pytest.mark.parametrize("raw", [
    b'{"name": "x", "price": 1e400}',
    b'{"name": "x", "price": NaN}',
    b'{"name": "x", "price": Infinity}',
    b'{"name": "x", "price": -Infinity}',
    b'{"name": "x", "price": 1, "amount": "NaN"}',
    b'{"name": "x", "price": 1, "amount": "1e400"}',
    b'{"name": "x\\u0000y", "price": 1}',
    b'{"name": "\\ud800", "price": 1}',
    b'{"name": "x", "price": 1, "extra": {"k\\u0000": 1}}',
    b'{"name": "x", "price": 1, "extra": {"big": 99999999999999999999999}}',
    b'{"name": "x", "price": 1, "extra": {"f": 1e999}}',
    b'{"name": "x", "price": 1, "at": "0001-01-01T00:30:00+01:00"}',
    b'{"name": "x", "price": 1, "extra": ' + b'[' * 100 + b']' * 100 + b'}',
])
def test_hostile_json_bodies_are_422(raw: bytes) -> None:
    body = problem(client.post("/items", content=raw, headers={"content-type": "application/json"}), 422)
    assert body["errors"] or body["detail"]


def test_json_nested_deeper_than_the_parser_goes_is_4xx() -> None:
    raw = b'{"name": "x", "price": 1, "extra": {"d": ' + b"[" * 30_000 + b"]" * 30_000 + b"}}"
    r = client.post("/items", content=raw, headers={"content-type": "application/json"})
    assert r.status_code in (400, 422) and r.headers["content-type"] == "application/problem+json"


def test_nul_in_path_or_query_is_422_before_any_route() -> None:
    problem(client.get("/tmf?q=%00"), 422)
    problem(client.get("/db/22%00"), 422)


def test_timezone_names_are_validated() -> None:
    assert client.post("/people", json={"timezone": "Asia/Shanghai"}).status_code == 200
    for bad in ("Mars/Olympus", "../../etc/passwd", "Asia/Shanghai\x00", "", "a" * 300):
        problem(client.post("/people", json={"timezone": bad}), 422)
    with pytest.raises(ValueError):
        timezone_name("Nowhere/City")


def test_invalid_utf8_correlation_id_gets_a_fresh_id() -> None:
    for raw in (b"\xff\xfe\xfd", b"a b", b"x" * 500, "中文".encode()):
        r = client.get("/tmf", headers=[(b"X-Correlation-ID", raw)])
        assert r.status_code == 200 and len(r.headers["x-correlation-id"]) == 32
    assert client.get("/tmf", headers={"X-Correlation-ID": "abc-123"}).headers["x-correlation-id"] == "abc-123"


async def stream_without_length(path: str, chunks: int = 320) -> tuple[int, int]:
    """POST a 20 MB body in 64 KiB chunks with no Content-Length, straight to the ASGI app; how many
    chunks did it read before it answered?"""
    app = make_app()
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": b"x" * 65536, "more_body": read < chunks}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json"), (b"host", b"t")],
             "client": ("127.0.0.1", 1), "server": ("t", 80), "state": {}}
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert (b"content-type", b"application/problem+json") in start["headers"]
    return start["status"], read


def test_a_body_over_the_limit_is_413_while_it_streams() -> None:
    # Declared too large: refused before the body is read.
    problem(client.post("/raw", content=b"x" * (64 * 1024 + 1)), 413)
    for path in ("/raw", "/items"):
        status, chunks_read = asyncio.run(stream_without_length(path))
        assert status == 413 and chunks_read <= 2  # 64 KiB chunks: the server stopped reading at the limit
    problem(client.post("/items", content=b'{"name": "' + b"x" * 70_000 + b'", "price": 1}',
                        headers={"content-type": "application/json"}), 413)
    assert client.post("/raw", content=b"x" * 1000).json() == {"size": 1000}


@pytest.mark.parametrize(("sqlstate", "status"), [
    ("22001", 422), ("22P02", 422), ("22003", 422), ("23505", 409), ("23503", 409), ("23502", 422),
    ("08006", 503), ("42P01", 500),
])
def test_database_errors_become_problems_without_internals(sqlstate: str, status: int) -> None:
    r = client.get(f"/db/{sqlstate}")
    problem(r, status)
    if status == 503:
        assert r.headers["retry-after"] == "7"


def test_postgresql_unavailable_is_503_with_retry_after() -> None:
    r = client.get("/down")
    problem(r, 503)
    assert r.headers["retry-after"] == "7"


def test_any_other_failure_is_a_500_problem_without_internals(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        r = client.get("/boom")
    body = problem(r, 500)
    assert "secret" not in r.text and body["title"] == "Internal error"


def test_status_of_unwrapped_connection_errors() -> None:
    assert status_of_database_error(ConnectionRefusedError()) == 503
    assert status_of_database_error(TimeoutError()) == 503
    assert status_of_database_error(sa_exc.TimeoutError()) == 503
