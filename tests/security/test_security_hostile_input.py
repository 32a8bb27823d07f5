"""The hostile inputs of issue 14 against the four real services (in-process, real PostgreSQL): each one
answers 4xx, never 500 (docs/security.md, "Hostile input"). The mechanisms are unit-tested in
shared/tests/unit/test_backbone_hostile_input.py; this proves every service has them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import pytest_asyncio
import yaml
from fastapi import FastAPI

from backbone.auth import issue_token
from backbone.settings import DEV_JWT_SECRET

ADMIN = {"Authorization": f"Bearer {issue_token('sec_admin', ['admin', 'supervisor'], secret=DEV_JWT_SECRET)}"}
HUGE = str(2**64)
CUSTOMER = {"name": "Hostile Input Ltd", "uscc": "91350100M000100Y43", "industry": "manufacturing",
            "region": "Fuzhou", "account_manager_id": "am_zhang",
            "factors": {"employees": 10, "handset_share": 0.5, "informatization_level": 3,
                        "unified_payment": "none", "influence": 2}}


@pytest_asyncio.fixture(scope="module")
async def apps(infra: Any, service_apps: Any) -> dict[str, FastAPI]:
    built: dict[str, FastAPI] = service_apps(infra.database_url, max_request_body_bytes=1_048_576)
    return built


async def send(app: FastAPI, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {**ADMIN, **kwargs.pop("headers", {})}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        return await client.request(method, path, headers=headers, **kwargs)


def assert_problem(r: httpx.Response, *statuses: int) -> None:
    assert r.status_code in statuses, (r.status_code, r.text[:300])
    assert r.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in r.text and "sqlalchemy" not in r.text.lower()


@pytest.mark.parametrize(("service", "path"), [
    ("crm", f"/tmf-api/productOrderingManagement/v4/productOrder?offset={HUGE}"),
    ("crm", f"/tmf-api/troubleTicket/v4/troubleTicket?offset={HUGE}"),
    ("eoms-bridge", f"/tmf-api/troubleTicket/v4/troubleTicket?offset={HUGE}"),
    ("eoms-bridge", f"/tmf-api/troubleTicket/v4/troubleTicket?offset={2**63}"),
    ("crm", "/api/v1/orders?created_from=0001-01-01T00:00:00%2B01:00"),
    ("crm", "/api/v1/customers?created_to=9999-12-31T23:59:59-01:00"),
    ("sla", "/api/v1/reports/compliance?from=0001-01-01T00:00:00%2B05:00"),
    ("sla", "/api/v1/reports/node-times?to=9999-12-31T23:59:59-12:00"),
    ("crm", "/api/v1/customers?q=a%00b"),
    ("notify", "/api/v1/directory/people?q=%00"),
])
async def test_hostile_queries_are_4xx(apps: dict[str, FastAPI], service: str, path: str) -> None:
    r = await send(apps[service], "GET", path)
    if path.startswith("/tmf-api/"):  # a TM Forum face: the TMF630 Error, 400 (backbone.tmf)
        assert r.status_code == 400 and r.headers["content-type"].startswith("application/json"), r.text[:300]
        assert r.json()["@type"] == "Error" and r.json()["message"].startswith("offset"), r.text[:300]
        return
    assert_problem(r, 422)
    # Refused by the gateway's checks (backbone.inputs, the NUL guard), not by the database's backstop.
    assert "out of range, too long or not valid" not in r.text


@pytest.mark.parametrize("raw", [
    b'"handset_share": 1e400', b'"handset_share": NaN', b'"handset_share": Infinity',
    b'"employees": 99999999999999999999999',
])
async def test_non_finite_and_huge_numbers_in_bodies_are_422(apps: dict[str, FastAPI], raw: bytes) -> None:
    body = (b'{"name": "x", "uscc": "91350100M000100Y43", "industry": "manufacturing", "region": "r", '
            b'"account_manager_id": "am_zhang", "factors": {"employees": 1, "informatization_level": 3, '
            b'"unified_payment": "none", "influence": 2, "handset_share": 0.5, ' + raw + b"}}")
    r = await send(apps["crm"], "POST", "/api/v1/customers", content=body, headers={"content-type": "application/json"})
    assert_problem(r, 422)


async def test_nul_and_overlong_text_never_reach_the_database(apps: dict[str, FastAPI]) -> None:
    for name in ("NUL\x00Ltd", "x" * 5000, "\ud800"):
        r = await send(apps["crm"], "POST", "/api/v1/customers",
                       content=json.dumps({**CUSTOMER, "name": name}).encode(),
                       headers={"content-type": "application/json"})
        assert_problem(r, 422)
    r = await send(apps["crm"], "POST", "/api/v1/customers", json={**CUSTOMER, "name": "a\x00b"})
    assert_problem(r, 422)
    r = await send(apps["eoms-bridge"], "POST", "/api/v1/admin/workflows",
                   json={"id": "x", "definition": {"name": "\x00"}})
    assert_problem(r, 422)


async def test_directory_time_zones_and_nul_are_validated(apps: dict[str, FastAPI]) -> None:
    from notify.domain.directory import DEFAULT_DIRECTORY_FILE

    directory = yaml.safe_load(DEFAULT_DIRECTORY_FILE.read_text())
    directory["people"][0]["timezone"] = "Mars/Olympus_Mons"
    assert_problem(await send(apps["notify"], "PUT", "/api/v1/directory", json=directory), 422)
    directory["people"][0]["timezone"] = "Asia/Shanghai"
    directory["people"][0]["name"] = "张\x00伟"
    assert_problem(await send(apps["notify"], "PUT", "/api/v1/directory", json=directory), 422)


async def test_infinity_in_a_template_preview_is_422(apps: dict[str, FastAPI]) -> None:
    from notify.domain.templates import EVENT_TYPES

    raw = b'{"event_type": "%s", "sample": {"remaining_s": Infinity}}' % next(iter(EVENT_TYPES)).encode()
    r = await send(apps["notify"], "POST", "/api/v1/templates/preview", content=raw,
                   headers={"content-type": "application/json"})
    assert_problem(r, 422)


@pytest.mark.parametrize("service", ["crm", "eoms-bridge", "sla", "notify"])
async def test_invalid_utf8_correlation_id_before_authentication(apps: dict[str, FastAPI], service: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[service]), base_url="http://svc") as client:
        r = await client.get("/api/v1/nowhere-in-particular", headers=[(b"X-Correlation-ID", b"\xff\xfe\x00")])
    assert r.status_code == 404 and len(r.headers["x-correlation-id"]) == 32


@pytest.mark.parametrize(("service", "path"), [
    ("crm", "/api/v1/customers"), ("eoms-bridge", "/api/v1/admin/workflows"), ("sla", "/api/v1/policies"),
    ("notify", "/api/v1/templates/preview"),
])
async def test_a_20_mb_body_is_413(apps: dict[str, FastAPI], service: str, path: str) -> None:
    r = await send(apps[service], "POST", path, content=b"[" + b"1," * 10_000_000 + b"1]",
                   headers={"content-type": "application/json"})
    assert_problem(r, 413)
