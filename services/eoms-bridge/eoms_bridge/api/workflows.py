"""/api/v1/admin/workflows: the loaded workflow definitions; publish a new version. /api/v1/workflows: one
version for the people who work its nodes (the ticket page's graph).

Definitions are answered with `title_zh` and `title_en` on every node (`api/titles.py`: the workflow's
own, else the suite's labels).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from sqlalchemy import select

from backbone.auth import Principal
from backbone.authz import authorize
from backbone.problems import Problem
from backbone.vocabulary import TokenRole
from eoms_bridge.api.deps import SessionDep, StoreDep, WorkflowAdminDep, WorkflowReaderDep, actor_of
from eoms_bridge.api.titles import with_titles
from eoms_bridge.models import workflow_definitions as wd

router = APIRouter(prefix="/api/v1/admin/workflows", tags=["admin"])
work_router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"])

WorkflowWorkerDep = Annotated[Principal, authorize(
    TokenRole.ACCOUNT_MANAGER, TokenRole.NETWORK_STAFF, TokenRole.SUPERVISOR, TokenRole.ADMIN,
    checks="a token whose roles work none of the workflow's nodes is 403 (supervisors and admins read all)")]


class WorkflowSummary(BaseModel):
    id: str
    version: int
    business_type: str
    source: str
    created_at: datetime
    latest: bool
    tickets: list[str]
    node_count: int


class WorkflowOut(WorkflowSummary):
    definition: dict[str, Any]


def _summary(r: dict[str, Any]) -> dict[str, Any]:
    d = r["definition"]
    return {**{k: r[k] for k in ("id", "version", "business_type", "source", "created_at", "latest")},
            "tickets": [t["kind"] for t in d.get("tickets", [])],
            "node_count": sum(len(t.get("nodes", [])) for t in d.get("tickets", []))}


@router.get("", response_model=list[WorkflowSummary], summary="Every loaded version (latest flagged)")
async def list_workflows(principal: WorkflowReaderDep, session: SessionDep, store: StoreDep,
                         business_type: str | None = None) -> list[WorkflowSummary]:
    return [WorkflowSummary(**_summary(r)) for r in await store.list(session, business_type)]


@router.get("/{workflow_id}/versions/{version}", response_model=WorkflowOut, summary="One version, in full")
async def get_workflow(workflow_id: str, version: int, principal: WorkflowReaderDep, session: SessionDep,
                       store: StoreDep) -> WorkflowOut:
    return await _one(session, store, workflow_id, version)


async def _one(session: SessionDep, store: StoreDep, workflow_id: str, version: int) -> WorkflowOut:
    rows = [r for r in await store.list(session) if r["id"] == workflow_id and r["version"] == version]
    if not rows:
        raise Problem(404, "Not found", f"no workflow {workflow_id!r} version {version}")
    return WorkflowOut(**_summary(rows[0]), definition=with_titles(rows[0]["definition"]))


@work_router.get("/{workflow_id}/versions/{version}", response_model=WorkflowOut,
                 summary="One version, in full, for the roles that work its nodes (and supervisors, admins)")
async def read_workflow(workflow_id: str, version: int, principal: WorkflowWorkerDep, session: SessionDep,
                        store: StoreDep) -> WorkflowOut:
    out = await _one(session, store, workflow_id, version)
    if not principal.has(TokenRole.SUPERVISOR, TokenRole.ADMIN):
        actor = actor_of(principal)
        d = await store.get(session, workflow_id, version)
        if not any(actor.can_work(n.role) for t in d.tickets for n in t.nodes):
            raise Problem(403, "Forbidden", f"no node of workflow {workflow_id!r} is worked by the token's roles")
    return out


@router.post("", response_model=WorkflowOut, status_code=201,
             summary="Validate and publish a definition as the next version (JSON or YAML body)")
async def publish_workflow(request: Request, response: Response, principal: WorkflowAdminDep, session: SessionDep,
                           store: StoreDep) -> WorkflowOut:
    raw_body = await request.body()
    try:
        if "yaml" in request.headers.get("content-type", ""):
            raw = yaml.safe_load(raw_body)
        else:
            import json

            raw = json.loads(raw_body or b"null")
    except (ValueError, yaml.YAMLError) as exc:
        raise Problem(422, "Invalid request", f"body is not JSON/YAML: {exc}",
                      errors=[{"field": "body", "message": "not parseable"}]) from exc
    if not isinstance(raw, dict):
        raise Problem(422, "Invalid request", "the body must be one workflow definition object",
                      errors=[{"field": "body", "message": "expected an object"}])
    async with session.begin():
        d = await store.publish(session, raw, source=f"admin:{principal.subject}"[:40])
    row = (await session.execute(select(wd).where(wd.c.id == d.id, wd.c.version == d.version))).mappings().one()
    response.headers["Location"] = f"/api/v1/admin/workflows/{d.id}/versions/{d.version}"
    return WorkflowOut(**_summary({**row, "latest": True}), definition=with_titles(row["definition"]))
