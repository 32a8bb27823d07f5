"""/api/v1/queues/{role}: the open node tasks of a role, oldest first. Claiming is `accept`."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.labels import LocalText
from backbone.pagination import Page, fetch_page
from backbone.problems import Problem
from backbone.vocabulary import NodeRole
from eoms_bridge.api.deps import QueueReaderDep, SessionDep, StoreDep, actor_of, ticket_scope
from eoms_bridge.api.titles import node_title
from eoms_bridge.models import tickets
from eoms_bridge.services.workflows import WorkflowStore

router = APIRouter(prefix="/api/v1/queues", tags=["queues"])

QUEUE_STATES = ("acknowledged", "in_progress", "pending")  # the partial index covers exactly these


class TaskOut(BaseModel):
    ticket_id: str
    ticket_kind: str
    business_type: str
    node: str
    node_title: LocalText = Field(description="the node's title in zh-CN and en")
    role: str
    state: str
    assignee: str | None
    partner: str | None = Field(default=None, description="the partner SI company whose node it is")
    node_entered_at: datetime
    customer_id: str
    customer_name: str
    customer_tier: str
    customer_region: str | None
    origin: str
    origin_id: str
    version: int


class QueuePage(Page[TaskOut]):
    role: str


@router.get("/{role}", response_model=QueuePage, summary="Open node tasks of a role, oldest first (cursor paging)")
async def role_queue(
    role: NodeRole, principal: QueueReaderDep, session: SessionDep, store: StoreDep,
    limit: int = Query(50, ge=1, le=200), cursor: str | None = None,
    unassigned: bool = Query(False, description="only tasks nobody has claimed yet"),
    assignee: str | None = Query(None, description="only tasks claimed by (or dispatched to) this user"),
    region: str | None = Query(None, max_length=60, description="only tasks of customers in this region"),
) -> QueuePage:
    actor = actor_of(principal)
    if not (actor.can_work(role) or (principal.partner is None and actor.may_dispatch)):
        raise Problem(403, "Forbidden", f"the token cannot work role {role.value!r}")
    t = tickets.c
    q = select(tickets).where(t.current_role == role.value, t.state.in_(QUEUE_STATES))
    if unassigned:
        q = q.where(t.assignee.is_(None))
    if assignee:
        q = q.where(t.assignee == assignee)
    if region:
        q = q.where(t.customer_region == region)
    q = q.where(*ticket_scope(principal).conditions())
    rows, nxt = await fetch_page(session, q, key=(t.node_entered_at, t.id), cursor=cursor, limit=limit)
    items = [await task_out(store, session, row._mapping) for row in rows]
    return QueuePage(role=role.value, items=items, next_cursor=nxt)


async def task_out(store: WorkflowStore, session: AsyncSession, r: RowMapping) -> TaskOut:
    """One open node task of a ticket row (the queues, "tasks assigned to me")."""
    wf = await store.get(session, r["workflow_id"], r["workflow_version"])
    return TaskOut(
        ticket_id=r["id"], ticket_kind=r["kind"], business_type=r["business_type"], node=r["current_node"],
        node_title=node_title(wf.ticket(r["kind"]) if wf.has_ticket(r["kind"]) else None, r["current_node"]),
        role=r["current_role"], state=r["state"], assignee=r["assignee"], partner=r["partner"],
        node_entered_at=r["node_entered_at"], customer_id=r["customer_id"], customer_name=r["customer_name"],
        customer_tier=r["customer_tier"], customer_region=r["customer_region"], origin=r["origin"],
        origin_id=r["origin_id"], version=r["version"])
