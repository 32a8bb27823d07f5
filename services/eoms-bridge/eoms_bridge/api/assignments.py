"""/api/v1/assignments: who works what (docs/eoms.md, "Dispatch").

- `GET /api/v1/assignments/mine`: the open node tasks assigned to (dispatched to, claimed by) the caller,
  oldest first;
- `GET /api/v1/assignments/involved`: the tickets the caller took part in (any action in a ticket's
  history: a claim, an outcome, a reassignment, a dispatch they asked for), newest first;
- `POST /api/v1/assignments/{ticket_id}/dispatch`: dispatch the unclaimed current node now to the
  on-duty person of its role in the ticket's region (or of `unit`), by the role's strategy (dispatchers,
  supervisors, admins; recorded as `how=auto`, the dispatcher as the actor).
- `GET /api/v1/assignments/people?role=&region=`: whom a task of that node role can go to (the
  organisation's active people holding it, on duty in the region now first, with their open tasks):
  the dispatcher's choice of a named person (the console's dispatch screen).

Reassigning to a named person or unit is the ticket action `reassign` (`to` or `to_unit`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, select, text

from backbone.auth import Principal
from backbone.authz import authorize
from backbone.db import db_now
from backbone.pagination import Page, fetch_page
from backbone.problems import Problem
from backbone.vocabulary import NodeRole
from eoms_bridge.api.deps import (
    DISPATCHERS,
    TICKET_ROLES,
    ContextDep,
    SessionDep,
    StoreDep,
    actor_of,
    ticket_scope,
)
from eoms_bridge.api.queues import QUEUE_STATES, TaskOut, task_out
from eoms_bridge.api.tickets import TicketOut, ticket_out
from eoms_bridge.domain.ticket import TicketAction
from eoms_bridge.models import AUTOMATIC_ACTORS, PEOPLES_HISTORY, ticket_history, tickets
from eoms_bridge.services import tickets as ticket_service
from eoms_bridge.services.assignment import open_tasks

router = APIRouter(prefix="/api/v1/assignments", tags=["assignments"])

MineDep = Annotated[Principal, authorize(
    *TICKET_ROLES, partners=True, scope="the caller's own tasks and tickets (a partner user: of its partner's nodes)")]
DispatcherDep = Annotated[Principal, authorize(
    *DISPATCHERS, scope="every open ticket (another's does not exist for these roles)",
    checks="a node nobody on duty (or in the unit) can work is 422")]
PeopleReaderDep = Annotated[Principal, authorize(
    *DISPATCHERS, scope="the organisation's people of a node role: names, units, duty, load (no contact details)")]


@router.get("/mine", response_model=Page[TaskOut], summary="Open node tasks assigned to me, oldest first")
async def my_tasks(principal: MineDep, session: SessionDep, store: StoreDep,
                   limit: int = Query(50, ge=1, le=200), cursor: str | None = None) -> Page[TaskOut]:
    t = tickets.c
    q = select(tickets).where(t.assignee == principal.subject, t.state.in_(QUEUE_STATES),
                              *ticket_scope(principal).conditions())
    rows, nxt = await fetch_page(session, q, key=(t.node_entered_at, t.id), cursor=cursor, limit=limit)
    return Page[TaskOut](items=[await task_out(store, session, r._mapping) for r in rows], next_cursor=nxt)


def involved_in(subject: str) -> Select[tuple[str]]:
    """The tickets `subject` took part in: any history row of theirs. A person's rows are the ones the actor index
    holds (`models.PEOPLES_HISTORY`), so the query names its predicate (the same rows: a person is no automatic
    actor); an automatic actor's own rows are read without it."""
    mine = select(ticket_history.c.ticket_id).where(ticket_history.c.actor == subject)
    return mine if subject in AUTOMATIC_ACTORS else mine.where(text(PEOPLES_HISTORY))


@router.get("/involved", response_model=Page[TicketOut],
            summary="Tickets I took part in (any action of mine in their history), newest first")
async def my_tickets(principal: MineDep, session: SessionDep, store: StoreDep,
                     limit: int = Query(50, ge=1, le=200), cursor: str | None = None) -> Page[TicketOut]:
    q = select(tickets).where(tickets.c.id.in_(involved_in(principal.subject)), *ticket_scope(principal).conditions())
    rows, nxt = await fetch_page(session, q, key=(tickets.c.id,), cursor=cursor, limit=limit, descending=True)
    actor = actor_of(principal)
    items = [await ticket_out(store, session, r._mapping, history=False, actor=actor) for r in rows]
    return Page[TicketOut](items=items, next_cursor=nxt)


class CandidateOut(BaseModel):
    id: str = Field(description="the person's user id (the `to` of a reassign)")
    name: str
    department: str
    department_name: str | None
    partner: str | None
    on_duty: bool = Field(description="on shift now in the rosters of the role for the region (or of any region)")
    open_tasks: int = Field(description="open node tasks assigned to them now")


class CandidatesOut(BaseModel):
    role: str
    region: str | None
    items: list[CandidateOut]


@router.get("/people", response_model=CandidatesOut,
            summary="Whom a task of a node role can be dispatched to: on duty in the region first, then by id")
async def candidates(principal: PeopleReaderDep, session: SessionDep, context: ContextDep,
                     role: NodeRole = Query(description="the node role of the task"),
                     region: str | None = Query(None, max_length=60, description="the ticket's customer region"),
                     ) -> CandidatesOut:
    org = context.organisation
    if org is None:
        return CandidatesOut(role=role.value, region=region, items=[])
    people = [p for p in org.people if p.active and role in p.roles]
    duty = set(org.on_duty(role, region, await db_now(session)))
    load = await open_tasks(session, [p.id for p in people]) if people else {}
    units = {d.id: d.name for d in org.departments}
    items = [CandidateOut(id=p.id, name=p.name, department=p.department, department_name=units.get(p.department),
                          partner=p.partner, on_duty=p.id in duty, open_tasks=load.get(p.id, 0)) for p in people]
    items.sort(key=lambda c: (not c.on_duty, c.id))
    return CandidatesOut(role=role.value, region=region, items=items)


class DispatchIn(BaseModel):
    unit: str | None = Field(default=None, max_length=60, description=(
        "a unit (department): one of its people holding the node's role (the on-duty ones first)"))


@router.post("/{ticket_id}/dispatch", response_model=TicketOut,
             summary="Dispatch the unclaimed current node to the on-duty person of its role in the ticket's region")
async def dispatch_now(ticket_id: str, principal: DispatcherDep, session: SessionDep, store: StoreDep,
                       context: ContextDep, body: DispatchIn | None = None) -> TicketOut:
    body = body or DispatchIn()
    org = context.organisation
    if org is None:
        raise Problem(409, "Conflict", "no organisation is loaded: nobody to dispatch to")
    actor = actor_of(principal)
    async with session.begin():
        row = await ticket_service.act(
            session, store=store, ticket_id=ticket_id, action=TicketAction.REASSIGN, actor=actor,
            now=await db_now(session), org=org, dispatch=True, to_unit=body.unit, forward=context.forwarding,
            eoms_partner=context.eoms_partner)
    return await ticket_out(store, session, row, history=False, actor=actor)
