"""/api/v1/tickets: read tickets and their node history."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import select

from backbone.problems import Problem
from eoms_bridge.models import ticket_history, tickets

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])


class HistoryOut(BaseModel):
    node: str | None
    role: str | None
    action: str
    outcome: str | None
    actor: str
    at: datetime


class TicketOut(BaseModel):
    id: str
    kind: str
    business_type: str
    origin: str
    origin_id: str
    customer_id: str
    customer_tier: str
    state: str
    current_node: str | None
    current_role: str | None
    assignee: str | None
    workflow_id: str
    workflow_version: int
    created_at: datetime
    history: list[HistoryOut]


@router.get("/{ticket_id}", response_model=TicketOut)
async def get_ticket(ticket_id: str, request: Request) -> TicketOut:
    async with request.app.state.runtime.session_factory() as session:
        row = (await session.execute(select(tickets).where(tickets.c.id == ticket_id))).first()
        if row is None:
            raise Problem(404, "Not found", f"ticket {ticket_id} not found")
        hist = (await session.execute(
            select(ticket_history).where(ticket_history.c.ticket_id == ticket_id).order_by(ticket_history.c.id)
        )).all()
    return TicketOut(**row._mapping, history=[HistoryOut(**h._mapping) for h in hist])
