"""Idempotency-Key: the request fingerprint, and the header dependency any gateway mounts."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import MetaData
from starlette.requests import Request

from backbone.auth import TokenVerifier, issue_token
from backbone.db import idempotency_table
from backbone.idempotency import HEADER, Idempotency, _request_fingerprint, idempotency_dependency, request_fingerprint
from backbone.problems import install_problem_handlers

SECRET = "test-secret-of-at-least-32-bytes!"
TABLE = idempotency_table(MetaData(schema="svc"))
IdempotencyDep = Annotated[Idempotency, Depends(idempotency_dependency(TABLE))]


def test_fingerprint_ignores_key_order_and_blanks_but_not_path_or_method() -> None:
    a = request_fingerprint("POST", "/x", b'{"a": 1, "b": [1, 2]}')
    assert a == request_fingerprint("POST", "/x", b'{"b":[1,2],"a":1}')
    assert a != request_fingerprint("POST", "/y", b'{"a": 1, "b": [1, 2]}')
    assert a != request_fingerprint("PUT", "/x", b'{"a": 1, "b": [1, 2]}')
    assert request_fingerprint("POST", "/x", b"not json") != request_fingerprint("POST", "/x", b"not json!")


def test_the_dependency_reads_the_header_per_principal() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.token_verifier = TokenVerifier(audience="crm", dev_secret=SECRET)

    @app.post("/things")
    async def create(idem: IdempotencyDep) -> dict[str, object]:
        return {"key": idem.key, "principal": idem.principal, "table": idem.table.fullname}

    token = issue_token("am_1", ["account_manager"], secret=SECRET)
    client = TestClient(app)
    auth = {"Authorization": f"Bearer {token}"}
    r = client.post("/things", json={"a": 1}, headers={**auth, HEADER: " k-1 "})
    assert r.json() == {"key": "k-1", "principal": "am_1", "table": "svc.idempotency_keys"}
    assert client.post("/things", json={}, headers=auth).json()["key"] is None
    r = client.post("/things", json={}, headers={**auth, HEADER: "x" * 201})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == HEADER


def test_fingerprint_of_hostile_bodies_never_raises() -> None:
    for body in (b'{"a": "\\ud800"}', b'{"a": NaN}', b"[" * 100_000, b"\xff\xfe"):
        assert len(request_fingerprint("POST", "/x", body)) == 64


def test_a_requests_fingerprint_is_its_bodys_whether_parsed_already_or_not() -> None:
    """The dependency takes the body's JSON from `request.json()` (parsed once by FastAPI's body parameter):
    the same fingerprint as `request_fingerprint` of the bytes, for JSON, broken and hostile bodies alike."""
    bodies = (b'{"b": [1, 2], "a": {"z": 1, "y": "\\u5929"}}', b"not json", b'{"a": "\\ud800"}', b'{"a": NaN}',
              b"[" * 100_000, b"\xff\xfe", b"")

    async def check(body: bytes, parsed_first: bool) -> str:
        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": body, "more_body": False}

        request = Request({"type": "http", "method": "POST", "path": "/x", "headers": []}, receive)
        if parsed_first:
            with contextlib.suppress(ValueError, RecursionError):  # what FastAPI answers with a 422 or a 500
                await request.json()
        return await _request_fingerprint(request, "/x")

    for body in bodies:
        expected = request_fingerprint("POST", "/x", body)
        assert asyncio.run(check(body, True)) == expected
        assert asyncio.run(check(body, False)) == expected
