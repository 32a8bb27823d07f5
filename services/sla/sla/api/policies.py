"""/api/v1/policies: list, validate, load and activate SLA policy versions (admin loads).

Validating and loading lint the set against the workflow catalog: a rule that can never win for any
node is a 422 naming `rules.<i>`, the rule id and the rule that shadows it (`sla.domain.lint`). The
reads of one version against the catalog (coverage, explain, matrix) are in `api/policy_reads.py`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from backbone.errors import NotFound
from sla.api.deps import AdminDep, ContextDep, ReaderDep, SessionDep
from sla.domain.errors import PolicyError, UnknownVersion
from sla.models import policy_versions
from sla.services import policies

router = APIRouter(prefix="/api/v1/policies", tags=["policies"])

_BODY_DOC: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "description": "a policy set (see docs/sla.md)"}},
    "application/yaml": {"schema": {"type": "string", "description": "the same, as YAML"}},
}}}


class PolicyVersionOut(BaseModel):
    version: str
    checksum: str
    source: str
    loaded_by: str
    loaded_at: datetime
    active: bool
    activated_at: datetime | None
    rules: int
    calendars: int


class PolicyVersionDetail(PolicyVersionOut):
    body: dict[str, Any]


class ValidationOut(BaseModel):
    valid: bool
    version: str
    rules: int
    calendars: int
    catalog_nodes: int = Field(description="nodes of the workflow catalog the set was linted against")
    nodes_at_catch_all: int = Field(description="nodes (any tier) won by a rule naming no node, business or kind")
    unmatched_nodes: int = Field(description="nodes (any tier) no rule matches: no timer would start")
    tier_order_violations: int = Field(description="nodes where tier A is not shorter than C, or B not between")


class LoadOut(BaseModel):
    version: str
    created: bool
    active: bool


async def _read_body(request: Request) -> dict[str, Any]:
    """The policy set in the body, JSON or YAML (a PolicyError, i.e. a 422, when it is neither)."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    if "json" not in request.headers.get("content-type", ""):
        return policies.parse_text(raw)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError("a policy set must be a JSON object")
    return data


def _out(row: Any, detail: bool = False) -> PolicyVersionOut:
    body = row.body
    fields = {k: getattr(row, k) for k in ("version", "checksum", "source", "loaded_by", "loaded_at", "active",
                                           "activated_at")}
    counts = {"rules": len(body.get("rules") or []), "calendars": len(body.get("calendars") or [])}
    return PolicyVersionDetail(**fields, **counts, body=body) if detail else PolicyVersionOut(**fields, **counts)


@router.get("", response_model=list[PolicyVersionOut], summary="Every loaded policy version, newest first")
async def list_policies(session: SessionDep, _: ReaderDep) -> list[PolicyVersionOut]:
    rows = (await session.execute(select(policy_versions).order_by(policy_versions.c.loaded_at.desc()))).all()
    return [_out(r) for r in rows]


@router.get("/active", response_model=PolicyVersionDetail, summary="The active policy version (new timers use it)")
async def active_policy(session: SessionDep, _: ReaderDep) -> PolicyVersionOut:
    row = (await session.execute(select(policy_versions).where(policy_versions.c.active))).first()
    if row is None:
        raise NotFound("no policy version is active")
    return _out(row, detail=True)


@router.post("/validate", response_model=ValidationOut, openapi_extra=_BODY_DOC,
             summary="Validate a policy set without loading it (422 names the field and rule at fault)")
async def validate_policy(request: Request, context: ContextDep, _: ReaderDep) -> ValidationOut:
    ps, report = policies.validate(await _read_body(request), context.workflows)
    summary = report.summary()
    return ValidationOut(valid=True, version=ps.version, rules=len(ps.rules), calendars=len(ps.calendars),
                         catalog_nodes=summary["catalog_nodes"], nodes_at_catch_all=summary["nodes_at_catch_all"],
                         unmatched_nodes=summary["unmatched_nodes"],
                         tier_order_violations=summary["tier_order_violations"])


@router.post("", response_model=LoadOut, status_code=201, openapi_extra=_BODY_DOC,
             summary="Load a policy version (201 new, 200 already loaded); activates it unless activate=false")
async def load_policy(request: Request, response: Response, session: SessionDep, context: ContextDep,
                      principal: AdminDep,
                      activate: bool = Query(True, description="make it the version new timers use")) -> LoadOut:
    data = await _read_body(request)
    async with session.begin():  # an invalid set or a dead rule (422), a changed known version (409): nothing loaded
        result = await policies.load(session, data, source="api", loaded_by=principal.subject, activate=activate,
                                     workflows=context.workflows)
    if not result.created:
        response.status_code = 200
    response.headers["Location"] = f"/api/v1/policies/{result.version}"
    return LoadOut(version=result.version, created=result.created, active=result.active)


@router.get("/{version}", response_model=PolicyVersionDetail, summary="One policy version with its body")
async def get_policy(version: str, session: SessionDep, _: ReaderDep) -> PolicyVersionOut:
    row = (await session.execute(select(policy_versions).where(policy_versions.c.version == version))).first()
    if row is None:
        raise UnknownVersion(version)
    return _out(row, detail=True)


@router.post("/{version}/activate", response_model=LoadOut,
             summary="Make a loaded version the active one (running timers keep theirs)")
async def activate_policy(version: str, session: SessionDep, _: AdminDep) -> LoadOut:
    async with session.begin():
        await policies.activate_version(session, version)
    return LoadOut(version=version, created=False, active=True)
