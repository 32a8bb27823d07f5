"""Helpers of the CRM integration tests; the fixtures are in conftest.py.

The CRM app in-process (httpx.ASGITransport + its lifespan) on the real PostgreSQL and Kafka.

Its consumer group is its own (`crm-test-…`), so it does not take partitions from the suite's CRM
process (group `crm`) that other tests may run on the same schema; the CRM's handlers are
idempotent per event id, so both applying an event is harmless. Customer ids are unique per test.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from backbone.auth import issue_token
from backbone.settings import DEV_JWT_SECRET
from crm.domain.uscc import CHARSET, complete_uscc
from devtools.infra import Infra

ROLES = ("account_manager", "network_staff", "supervisor", "admin")
ORG_CHARS = "0123456789" + "".join(c for c in CHARSET if c.isalpha())


def new_uscc(prefix: str = "91120000") -> str:
    return complete_uscc(prefix + "".join(random.choices(ORG_CHARS, k=8)))


def auth(subject: str, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(subject, list(roles), secret=DEV_JWT_SECRET)}"}


FACTORS_B = {"employees": 600, "handset_share": 0.6, "informatization_level": 3, "unified_payment": "partial",
             "influence": 3}
DATA_LINE = {"product": "dedicated_line_data", "business_kind": "opening",
             "attributes": {"bandwidth_mbps": 100, "a_end_address": "天津港东疆港区", "z_end_address": "滨海IDC机房"}}


@dataclass
class Crm:
    http: httpx.AsyncClient
    infra: Infra
    run: str  # unique per test session: keeps ids and managers apart from other runs

    def manager(self, name: str = "am") -> str:
        return f"{name}_{self.run}"

    async def customer(self, manager: str, **overrides: Any) -> dict[str, Any]:
        body = {"name": f"测试客户 {uuid.uuid4().hex[:6]}", "uscc": new_uscc(), "industry": "manufacturing",
                "region": "天津-西青区", "account_manager_id": manager, "factors": FACTORS_B, **overrides}
        r = await self.http.post("/api/v1/customers", json=body, headers=auth("root", "admin"))
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    async def order(self, manager: str, customer_id: str, *, submit: bool = False, **extra: Any) -> dict[str, Any]:
        body = {"customer_id": customer_id, "channel": "account_manager", "items": [DATA_LINE], "submit": submit,
                **extra}
        r = await self.http.post("/api/v1/orders", json=body, headers=auth(manager, "account_manager"))
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    async def complaint(self, manager: str, customer_id: str, **extra: Any) -> dict[str, Any]:
        body = {"customer_id": customer_id, "category": "fault", "severity": "high",
                "product": "dedicated_line_data", "service_ref": "TJ-DL-0001",
                "description": "专线中断，联系人 13812345678", **extra}
        r = await self.http.post("/api/v1/complaints", json=body, headers=auth(manager, "account_manager"))
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]


def assert_problem(r: httpx.Response, status: int, field_prefix: str | None = None) -> dict[str, Any]:
    """An RFC 9457 reply with that status, naming a field that starts with `field_prefix`."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json", r.headers
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["title"]
    if field_prefix is not None:
        fields = [e["field"] for e in body.get("errors", [])]
        assert any(f.startswith(field_prefix) for f in fields), (field_prefix, fields)
    return body


def assert_tmf_error(r: httpx.Response, status: int, field_prefix: str | None = None) -> dict[str, Any]:
    """A TMF630 Error (a TM Forum face) with that status, its message naming `field_prefix` first."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json;charset=utf-8", r.headers
    body: dict[str, Any] = r.json()
    assert body["@type"] == "Error" and body["status"] == str(status) and body["code"] and body["reason"], body
    assert set(body) <= {"code", "reason", "message", "status", "referenceError", "@type"}, body
    if field_prefix is not None:
        assert body["message"].startswith(field_prefix) or f"; {field_prefix}" in body["message"], body
    return body


async def events_of(bootstrap: str, topic: str, subject: str, types: set[str] | None = None) -> list[Any]:
    from tests.support.kafka_tools import read_events

    return await read_events(bootstrap, topic, subject=subject, types=types)


def payload_matches(envelope: Any) -> Any:
    """The envelope's data validates against its registered model and carries exactly its fields."""
    from backbone.events import payload_class

    model = payload_class(envelope.type)
    assert model is not None, envelope.type
    assert set(envelope.data) == set(model.model_fields), (envelope.type, set(envelope.data) ^ set(model.model_fields))
    return envelope.payload(model)
