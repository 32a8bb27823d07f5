"""/api/v1/tickets: read tickets with their node history; node actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.engine import RowMapping

from backbone.db import db_now
from backbone.labels import LocalText
from backbone.pagination import Page, fetch_page
from backbone.problems import Problem, field_error
from backbone.vocabulary import NodeRole
from eoms_bridge.api.deps import (
    ContextDep,
    SessionDep,
    StoreDep,
    TicketReaderDep,
    TicketWorkerDep,
    actor_of,
    ticket_scope,
)
from eoms_bridge.api.titles import node_title, outcome_label
from eoms_bridge.domain.ticket import ACTION_STATES, Actor, TicketAction
from eoms_bridge.domain.workflow import Terminal
from eoms_bridge.models import ticket_history, tickets
from eoms_bridge.services import tickets as ticket_service
from eoms_bridge.services.snapshot import from_snapshot
from eoms_bridge.services.workflows import WorkflowStore

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])


class NodeVisitOut(BaseModel):
    node: str
    title: LocalText = Field(description="the node's title in zh-CN and en")
    role: str
    entered_at: datetime
    entered_via: str
    assignee: str | None
    accepted_at: datetime | None
    left_at: datetime | None
    left_by: str | None
    outcome: str | None
    next_node: str | None
    data: dict[str, Any]
    reason: str | None
    partner: str | None = Field(default=None, description="the partner SI company whose node it is (partner_si)")
    unit: str | None = Field(default=None, description="the unit (department) it was handed to, if any")


class EventOut(BaseModel):
    event_type: str
    node: str | None
    role: str | None
    outcome: str | None
    from_state: str | None
    to_state: str | None
    actor: str
    note: str | None
    at: datetime


class OutcomeOut(BaseModel):
    outcome: str
    next_node: str = Field(description='where it leads: a node, "$resolved" or "$rejected"')
    label: LocalText = Field(description="the outcome's label in zh-CN and en")
    next_title: LocalText | None = Field(description="the next node's title (null for $resolved / $rejected)")
    needs_reason: bool = Field(description="it rejects the ticket: `complete` needs a reason")


class TicketOut(BaseModel):
    id: str
    kind: str
    business_type: str
    origin: str
    origin_id: str
    origin_item_id: str
    customer_id: str
    customer_name: str
    customer_tier: str
    account_manager_id: str
    customer_region: str | None = Field(default=None, description="the customer's region (from the CRM's events)")
    state: str
    current_node: str | None
    current_node_title: LocalText | None = Field(default=None, description="the current node's title, zh-CN and en")
    current_role: str | None
    assignee: str | None
    partner: str | None = Field(default=None, description=(
        "the partner SI company whose node is current (its engineers see and work the ticket meanwhile)"))
    node_entered_at: datetime | None
    workflow_id: str
    workflow_version: int
    version: int
    external_ref: str | None
    severity: str | None = None
    description: str | None = None
    data: dict[str, Any] = Field(default_factory=dict, description=(
        "what the CRM sent: an order item's product, business kind, channel and attributes, or a complaint's "
        "category and product (the complaint desk triages a complaint naming no product by its category)"))
    created_at: datetime
    updated_at: datetime
    allowed_actions: list[TicketAction] = Field(description=(
        "the actions the caller may take now, as the domain decides them: legal in the ticket's state and "
        "node, and allowed to this caller (the node's role, its assignee, supervisor authority); in the "
        "order accept, complete, return, suspend, resume, reassign, hold, release, cancel, close"))
    legal_actions: list[TicketAction] = Field(description="the actions legal now in the state and node, whoever asks")
    allowed_outcomes: list[OutcomeOut] = Field(description=(
        "the current node's outcomes (what `complete` accepts) and where each leads, in the workflow's order"))
    nodes: list[NodeVisitOut] = Field(description="every stay at a node: who, when, outcome")
    history: list[EventOut] = Field(default_factory=list, description="audit trail, one row per change")


_ACTION_ORDER = list(ACTION_STATES)


def _ordered(actions: frozenset[TicketAction]) -> list[TicketAction]:
    return [a for a in _ACTION_ORDER if a in actions]


async def ticket_out(store: WorkflowStore, session: SessionDep, row: RowMapping, *, history: bool, actor: Actor
                     ) -> TicketOut:
    """The ticket as `actor` sees it: what they may do now, and the titles of its nodes."""
    wf = await store.get(session, row["workflow_id"], row["workflow_version"])
    t = from_snapshot(row["snapshot"], wf)
    events: list[EventOut] = []
    if history:
        hist = (await session.execute(
            select(ticket_history).where(ticket_history.c.ticket_id == row["id"]).order_by(ticket_history.c.id)
        )).mappings().all()
        events = [EventOut(**h) for h in hist]
    nodes = [NodeVisitOut(node=v.node, title=node_title(t.definition, v.node), role=v.role.value,
                          entered_at=v.entered_at, entered_via=v.entered_via, assignee=v.assignee,
                          accepted_at=v.accepted_at, left_at=v.left_at, left_by=v.left_by, outcome=v.outcome,
                          next_node=v.next_node, data=v.data, reason=v.reason, partner=v.partner, unit=v.unit)
             for v in t.history]
    outcomes = [OutcomeOut(outcome=o, next_node=target, label=outcome_label(o),
                           next_title=None if target.startswith("$") else node_title(t.definition, target),
                           needs_reason=target == Terminal.REJECTED.value)
                for o, target in t.outcomes()]
    fields = {k: row[k] for k in TicketOut.model_fields if k in row}
    return TicketOut(
        **fields, current_node_title=node_title(t.definition, t.current_node) if t.current_node else None,
        allowed_actions=_ordered(t.actions_for(actor)), legal_actions=_ordered(t.allowed_actions()),
        allowed_outcomes=outcomes, nodes=nodes, history=events)


@router.get("", response_model=Page[TicketOut], summary="List tickets (filter by origin, state, kind; cursor by id)")
async def list_tickets(
    principal: TicketReaderDep, session: SessionDep, store: StoreDep,
    origin_id: str | None = None, state: str | None = None, kind: str | None = None,
    limit: int = Query(50, ge=1, le=200), cursor: str | None = None,
) -> Page[TicketOut]:
    t = tickets.c
    given = [column == value for column, value in ((t.origin_id, origin_id), (t.state, state), (t.kind, kind)) if value]
    q = select(tickets).where(*given, *ticket_scope(principal).conditions())
    rows, next_cursor = await fetch_page(session, q, key=(tickets.c.id,), cursor=cursor, limit=limit)
    actor = actor_of(principal)
    items = [await ticket_out(store, session, r._mapping, history=False, actor=actor) for r in rows]
    return Page[TicketOut](items=items, next_cursor=next_cursor)


@router.get("/{ticket_id}", response_model=TicketOut, summary="A ticket with its node history and audit trail")
async def get_ticket(ticket_id: str, principal: TicketReaderDep, session: SessionDep, store: StoreDep) -> TicketOut:
    row = (await session.execute(select(tickets).where(tickets.c.id == ticket_id))).mappings().first()
    if row is None or not ticket_scope(principal).sees(row):  # another's ticket: 404, its existence undisclosed
        raise Problem(404, "Not found", f"ticket {ticket_id} not found")
    return await ticket_out(store, session, row, history=True, actor=actor_of(principal))


class ActionIn(BaseModel):
    outcome: str | None = Field(default=None, description="complete: the node outcome (see the workflow)")
    data: dict[str, Any] = Field(default_factory=dict, description="complete: result data; `reason` for rejections")
    reason: str | None = Field(default=None, max_length=2000, description="return / suspend / hold / cancel")
    to: str | None = Field(default=None, max_length=60, description="reassign: the new assignee's user id")
    to_roles: list[NodeRole] | None = Field(default=None, description=(
        "reassign: roles of the new assignee when the organisation does not know them (a person of the "
        "organisation holds its roles there; default: the node's role)"))
    to_unit: str | None = Field(default=None, max_length=60, description=(
        "reassign: a unit (department) instead of a person: one of its people holding the node's role, "
        "the on-duty ones first, picked by the role's dispatch strategy"))
    expected_version: int | None = Field(default=None, description="optimistic lock: fail with 409 if stale")


@router.post("/{ticket_id}/actions/{action}", response_model=TicketOut,
             summary="accept | complete | return | suspend | resume | reassign (and hold/release/cancel/close)")
async def ticket_action(
    ticket_id: str, action: TicketAction, principal: TicketWorkerDep, session: SessionDep, store: StoreDep,
    context: ContextDep, body: ActionIn | None = None,
) -> TicketOut:
    body = body or ActionIn()
    if action is TicketAction.COMPLETE and not body.outcome:
        raise field_error("outcome", "complete needs an outcome")
    if action in (TicketAction.RETURN, TicketAction.SUSPEND) and not (body.reason or "").strip():
        raise field_error("reason", f"{action.value} needs a reason")
    if action is TicketAction.REASSIGN and not (body.to or body.to_unit):
        raise field_error("to", "reassign needs the new assignee (to) or a unit (to_unit)")
    if body.to and body.to_unit:
        raise field_error("to_unit", "name a person (to) or a unit (to_unit), not both")
    data = dict(body.data)
    if action is TicketAction.COMPLETE and body.reason and "reason" not in data:
        data["reason"] = body.reason  # a rejecting outcome reads its reason from the data
    actor = actor_of(principal)
    if not actor.roles and not actor.dispatcher:
        raise Problem(403, "Forbidden", "the token carries no role that can work tickets")
    async with session.begin():
        to: Actor | None = None
        org = context.organisation
        if body.to:
            person = org.person(body.to) if org is not None else None
            roles = list(person.roles) if person is not None else body.to_roles
            if roles is None:  # not in the organisation: the target is taken to hold the node's role
                current = (await session.execute(
                    select(tickets.c.current_role).where(tickets.c.id == ticket_id))).scalar()
                roles = [NodeRole(current)] if current else []
            to = Actor.person(body.to, *roles)
        row = await ticket_service.act(
            session, store=store, ticket_id=ticket_id, action=action, actor=actor, now=await db_now(session),
            outcome=body.outcome, data=data, reason=body.reason, to=to, to_unit=body.to_unit,
            expected_version=body.expected_version, forward=context.forwarding, org=org,
            eoms_partner=context.eoms_partner,
            account_manager=(scope := ticket_scope(principal)).account_manager, partner=scope.partner,
        )
    return await ticket_out(store, session, row, history=False, actor=actor)
