"""TMF621-shaped read API: /tmf-api/troubleTicket/v4/troubleTicket[/{id}]."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.engine import RowMapping

from backbone.problems import Problem
from eoms_bridge.api.deps import SessionDep, TmfReaderDep, ticket_scope
from eoms_bridge.models import ticket_history, tickets

router = APIRouter(prefix="/tmf-api/troubleTicket/v4", tags=["TMF621"])

# Our states → TMF621 TroubleTicketStatusType.
TMF_STATUS = {
    "acknowledged": "acknowledged", "in_progress": "inProgress", "pending": "pending", "held": "held",
    "resolved": "resolved", "closed": "closed", "rejected": "rejected", "cancelled": "cancelled",
}
FROM_TMF = {v: k for k, v in TMF_STATUS.items()}


class RelatedEntity(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    id: str
    role: str
    name: str | None = None
    referredType: str = Field(alias="@referredType")


class StatusChange(BaseModel):
    status: str
    changeDate: datetime
    changeReason: str | None = None


class TroubleTicket(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    id: str
    href: str
    name: str
    description: str | None
    severity: str | None
    status: str
    ticketType: str
    creationDate: datetime
    lastUpdate: datetime
    relatedEntity: list[RelatedEntity]
    statusChange: list[StatusChange]
    type_: str = Field(default="TroubleTicket", alias="@type")
    characteristic: list[dict[str, Any]] = Field(default_factory=list)


def _tmf(request: Request, r: RowMapping, changes: list[StatusChange]) -> TroubleTicket:
    origin_type = "ProductOrder" if r["origin"] == "order" else "Complaint"
    return TroubleTicket(
        id=r["id"], href=str(request.url_for("get_trouble_ticket", ticket_id=r["id"]).path),
        name=f"{r['kind']} {r['business_type']}", description=r["description"], severity=r["severity"],
        status=TMF_STATUS.get(r["state"], r["state"]), ticketType=r["kind"], creationDate=r["created_at"],
        lastUpdate=r["updated_at"],
        relatedEntity=[
            RelatedEntity(id=r["origin_id"], role=r["origin"], **{"@referredType": origin_type}),
            RelatedEntity(id=r["customer_id"], role="customer", name=r["customer_name"],
                          **{"@referredType": "Organization"}),
        ],
        statusChange=changes,
        characteristic=[{"name": k, "value": r[k]} for k in (
            "business_type", "customer_tier", "current_node", "current_role", "assignee", "workflow_id",
            "workflow_version") if r[k] is not None],
    )


async def _changes(session: SessionDep, ids: list[str]) -> dict[str, list[StatusChange]]:
    out: dict[str, list[StatusChange]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = (await session.execute(
        select(ticket_history.c.ticket_id, ticket_history.c.to_state, ticket_history.c.at, ticket_history.c.note)
        .where(ticket_history.c.ticket_id.in_(ids), ticket_history.c.to_state.is_not(None))
        .order_by(ticket_history.c.id))).all()
    for h in rows:
        out[h.ticket_id].append(StatusChange(status=TMF_STATUS.get(h.to_state, h.to_state), changeDate=h.at,
                                             changeReason=h.note))
    return out


@router.get("/troubleTicket", response_model=list[TroubleTicket], response_model_by_alias=True,
            summary="List trouble tickets (offset/limit, X-Total-Count)")
async def list_trouble_tickets(
    request: Request, response: Response, principal: TmfReaderDep, session: SessionDep,
    offset: int = Query(0, ge=0), limit: int = Query(20, ge=1, le=100),
    status: str | None = None, ticketType: str | None = None, relatedEntityId: str | None = None,
) -> list[TroubleTicket]:
    conds = []
    if status:
        conds.append(tickets.c.state == FROM_TMF.get(status, status))
    if ticketType:
        conds.append(tickets.c.kind == ticketType)
    if relatedEntityId:
        conds.append((tickets.c.origin_id == relatedEntityId) | (tickets.c.customer_id == relatedEntityId))
    conds += ticket_scope(principal).conditions()
    total = (await session.execute(select(func.count()).select_from(tickets).where(*conds))).scalar_one()
    rows = (await session.execute(
        select(tickets).where(*conds).order_by(tickets.c.id.desc()).offset(offset).limit(limit))).mappings().all()
    changes = await _changes(session, [r["id"] for r in rows])
    response.headers["X-Total-Count"] = str(total)
    response.headers["X-Result-Count"] = str(len(rows))
    return [_tmf(request, r, changes[r["id"]]) for r in rows]


@router.get("/troubleTicket/{ticket_id}", response_model=TroubleTicket, response_model_by_alias=True,
            summary="One trouble ticket")
async def get_trouble_ticket(ticket_id: str, request: Request, principal: TmfReaderDep,
                             session: SessionDep) -> TroubleTicket:
    r = (await session.execute(select(tickets).where(tickets.c.id == ticket_id))).mappings().first()
    if r is None or not ticket_scope(principal).sees(r):  # another's ticket: 404, its existence undisclosed
        raise Problem(404, "Not found", f"troubleTicket {ticket_id} not found")
    return _tmf(request, r, (await _changes(session, [ticket_id]))[ticket_id])
