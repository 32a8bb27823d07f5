"""The CRM's TMF622 face against the OFFICIAL TMF622 Product Ordering v4.0.0 specification
(`../shared/specs/TMF622-ProductOrdering-v4.0.0.swagger.json`, unchanged): schemathesis generates requests
from the specification for every server-side productOrder and cancelProductOrder operation (POST, GET list,
GET, PATCH, DELETE; POST, GET list, GET), valid and invalid, calls the CRM in-process and validates each
answer against the specification: no 5xx, a status the operation declares, its media type, its headers,
and its body against the declared schema (`Error` included). Then the same checks on real resources (a
created order, its patch, a draft deleted, a cancellation; an order pending for information and PATCHed, a
cancellation waiting for its reason and completed by a second POST), which generated ids rarely reach.

The hub (`/hub`) has its own tests (backbone.hub); `/listener/*` are the client's side.
The CRM runs against a database of its own (`groupsuite_tmf622`, migrated afresh each session), as the
security fuzz test does. GS_TMF_EXAMPLES sets the examples per operation and mode (default 5).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backbone.auth import issue_token
from backbone.settings import DEV_JWT_SECRET
from tests.security.conftest import WithoutLifespan, build_service_app, migrated_database

SPEC_PATH = Path(__file__).resolve().parents[3] / "shared" / "specs" / "TMF622-ProductOrdering-v4.0.0.swagger.json"
DB = "groupsuite_tmf622"
EXAMPLES = int(os.environ.get("GS_TMF_EXAMPLES", "5"))
TOKEN = issue_token("tmf622_conformance", ["admin"], secret=DEV_JWT_SECRET)
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
SERVER_SIDE = ("/productOrder", "/cancelProductOrder")
BASE = "/tmf-api/productOrderingManagement/v4"


@pytest.fixture(scope="module")
def tmf_database(infra: Any) -> str:
    return migrated_database(infra.database_url, DB)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def crm_app(tmf_database: str) -> AsyncIterator[FastAPI]:

    app, engine = build_service_app("crm", tmf_database)  # built in a running loop (its Kafka producer asks)
    yield app
    await app.state.runtime.infra.engine.dispose()
    await engine.dispose()


def _customer(app: FastAPI) -> str:
    async def run() -> str:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://crm") as http:
            uscc_chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
            from crm.domain.uscc import complete_uscc

            uscc = complete_uscc("91120000" + "".join(uscc_chars[b % 31] for b in uuid.uuid4().bytes[:8]))
            r = await http.post("/api/v1/customers", headers=HEADERS, json={
                "name": f"TMF622 一致性 {uuid.uuid4().hex[:6]}", "uscc": uscc, "industry": "manufacturing",
                "region": "天津-西青区", "account_manager_id": "am_tmf622",
                "factors": {"employees": 600, "handset_share": 0.6, "informatization_level": 3,
                            "unified_payment": "partial", "influence": 3}})
            assert r.status_code == 201, r.text
            return str(r.json()["id"])

    return asyncio.run(run())


def _order_body(customer_id: str) -> dict[str, Any]:
    return {
        "description": "conformance", "channel": [{"id": "agent", "name": "agent"}],
        "relatedParty": [{"id": customer_id, "role": "customer", "@referredType": "Organization"}],
        "productOrderItem": [{"id": "1", "action": "add", "product": {
            "productSpecification": {"id": "dedicated_line_data"},
            "productCharacteristic": [{"name": "bandwidth_mbps", "value": 100},
                                      {"name": "a_end_address", "value": "A"},
                                      {"name": "z_end_address", "value": "Z"}]}}],
    }


@pytest.fixture(scope="module")
def spec(crm_app: FastAPI) -> Any:
    schema = schemathesis.openapi.from_path(str(SPEC_PATH))
    schema.app = WithoutLifespan(crm_app)
    return schema


def _operations(spec: Any) -> dict[str, Any]:
    ops = {}
    for result in spec.get_all_operations():
        op = result.ok()
        if op.path.startswith(SERVER_SIDE):
            ops[f"{op.method.upper()} {op.path}"] = op
    return ops


def _generated(operation: Any, mode: GenerationMode, name: str, statuses: dict[str, set[int]]) -> list[str]:
    """EXAMPLES generated cases of one operation in one mode, each answer checked; the failures."""

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate])
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call_and_validate(headers=HEADERS, checks=CHECKS)
        statuses.setdefault(name, set()).add(response.status_code)

    try:
        run()
    except Unsatisfiable:  # nothing to make invalid
        return []
    except Exception as exc:  # schemathesis' failures (grouped), each with a curl line
        return [_describe(exc)]
    return []


def _describe(exc: BaseException, depth: int = 0) -> str:
    text = f"{'  ' * depth}{type(exc).__name__}: {str(exc)[:2500]}"
    for sub in getattr(exc, "exceptions", ()):
        text += "\n" + _describe(sub, depth + 1)
    return text


def test_every_server_side_operation_of_the_specification_is_served(spec: Any) -> None:
    assert sorted(_operations(spec)) == [
        "DELETE /productOrder/{id}", "GET /cancelProductOrder", "GET /cancelProductOrder/{id}", "GET /productOrder",
        "GET /productOrder/{id}", "PATCH /productOrder/{id}", "POST /cancelProductOrder", "POST /productOrder"]


@pytest.mark.timeout(1200)  # generating ProductOrder bodies from the specification is slow on a shared machine
def test_generated_requests_get_conformant_answers(spec: Any, crm_app: FastAPI) -> None:
    """Requests generated from the specification (valid and invalid): every answer conforms to it."""
    customer = _customer(crm_app)
    asyncio.run(_seed_orders(crm_app, customer))  # the lists have real orders and cancellations to show
    failures: list[str] = []
    statuses: dict[str, set[int]] = {}
    for name, operation in _operations(spec).items():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += [f"{name} ({mode.value}): {f}" for f in _generated(operation, mode, name, statuses)]
    print({k: sorted(v) for k, v in statuses.items()})
    assert not failures, "\n\n".join(failures)
    assert 200 in statuses["GET /productOrder"] and 200 in statuses["GET /cancelProductOrder"]


async def _seed_orders(app: FastAPI, customer: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://crm") as http:
        for _ in range(2):
            r = await http.post(f"{BASE}/productOrder", json=_order_body(customer), headers=HEADERS)
            assert r.status_code == 201, r.text
        await http.post(f"{BASE}/cancelProductOrder", json={"productOrder": {"id": r.json()["id"]}}, headers=HEADERS)


@pytest.mark.timeout(600)
def test_real_resources_conform(spec: Any, crm_app: FastAPI) -> None:
    """Each operation on real resources (the ids generated requests rarely hit): 2xx answers that conform."""
    ops = _operations(spec)
    customer = _customer(crm_app)

    def call(name: str, expected: int, **kwargs: Any) -> Any:
        case = ops[name].Case(**kwargs)
        response = case.call_and_validate(headers=HEADERS, checks=CHECKS)
        assert response.status_code == expected, (name, response.status_code, response.text[:500])
        return response.json() if response.content else None

    order = call("POST /productOrder", 201, body=_order_body(customer), media_type="application/json")
    call("GET /productOrder", 200, query={"limit": 5, "fields": "state,orderDate"})
    call("GET /productOrder/{id}", 200, path_parameters={"id": order["id"]})
    patch = {"description": "patched", "productOrderItem": [
        {k: v for k, v in i.items() if k != "state"} for i in order["productOrderItem"]]}
    assert call("PATCH /productOrder/{id}", 200, path_parameters={"id": order["id"]}, body=patch,
                media_type="application/json")["description"] == "patched"
    conflict = {"productOrderItem": [{"id": "9", "action": "modify", "product": {
        "productSpecification": {"id": "dedicated_line_data"}}}]}
    call("PATCH /productOrder/{id}", 409, path_parameters={"id": order["id"]}, body=conflict,
         media_type="application/json")
    call("DELETE /productOrder/{id}", 409, path_parameters={"id": order["id"]})
    task = call("POST /cancelProductOrder", 201, body={"productOrder": {"id": order["id"]}, "cancellationReason": "x"},
                media_type="application/json")
    assert task["state"] == "inProgress"
    call("GET /cancelProductOrder", 200, query={"offset": 0, "limit": 10})
    call("GET /cancelProductOrder/{id}", 200, path_parameters={"id": task["id"]})
    late = call("POST /cancelProductOrder", 201, body={"productOrder": {"id": order["id"]}},
                media_type="application/json")
    assert late["state"] == "terminatedWithError"
    draft = asyncio.run(_draft(crm_app, customer))
    call("DELETE /productOrder/{id}", 204, path_parameters={"id": draft})
    call("GET /productOrder/{id}", 404, path_parameters={"id": draft})
    # information required (docs/tmf.md): an M2M order without sim_delivery_address is pending until PATCHed
    m2m = [{"name": "sim_count", "value": 20}, {"name": "apn", "value": "tj.m2m"}]
    body = {**_order_body(customer), "productOrderItem": [{"id": "1", "action": "add", "product": {
        "productSpecification": {"id": "m2m"}, "productCharacteristic": m2m}}]}
    pending = call("POST /productOrder", 201, body=body, media_type="application/json")
    assert pending["state"] == "pending" and pending["informationRequired"]
    call("GET /productOrder", 200, query={"state": "pending", "limit": 5})
    body["productOrderItem"][0]["product"]["productCharacteristic"] = [*m2m, {"name": "sim_delivery_address",
                                                                               "value": "天津港"}]
    given_ = call("PATCH /productOrder/{id}", 200, path_parameters={"id": pending["id"]},
                  body={"productOrderItem": body["productOrderItem"]}, media_type="application/json")
    assert given_["state"] == "acknowledged"
    # a cancellation of an order in progress without a reason waits (acknowledged); a new POST completes it
    asyncio.run(_start(crm_app, pending["id"]))
    waiting = call("POST /cancelProductOrder", 201, body={"productOrder": {"id": pending["id"]}},
                   media_type="application/json")
    assert waiting["state"] == "acknowledged" and waiting["informationRequired"][0]["fieldPath"] == "cancellationReason"
    went_on = call("POST /cancelProductOrder", 201, body={"productOrder": {"id": pending["id"]},
                                                          "cancellationReason": "x"}, media_type="application/json")
    assert went_on["id"] == waiting["id"] and went_on["state"] == "inProgress"


async def _start(app: FastAPI, order_id: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://crm") as http:
        r = await http.post(f"/api/v1/orders/{order_id}/start", headers=HEADERS)
        assert r.status_code == 200, r.text


async def _draft(app: FastAPI, customer: str) -> str:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://crm") as http:
        body = {"customer_id": customer, "items": [{"product": "dedicated_line_data", "attributes": {
            "bandwidth_mbps": 100, "a_end_address": "A", "z_end_address": "Z"}}]}
        r = await http.post("/api/v1/orders", json=body, headers=HEADERS)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

