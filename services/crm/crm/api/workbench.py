"""/api/v1/me/workbench: an account manager's open orders and complaints, those at SLA risk first.

SLA risk comes from `sla.alerts` (the latest alert per ticket) mapped to orders and complaints
through the ticket trail: escalated > breached > warning > none; then the nearest deadline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, Table, select

from crm import access
from crm.api.deps import CustomerReaderDep, SessionDep
from crm.api.views import RISK_RANK, ComplaintOut, OrderOut, SlaOut, TicketOut, complaints_out, orders_out
from crm.domain.lifecycle import ComplaintState, OrderState
from crm.models import complaints, orders, sla_alerts, tickets

router = APIRouter(prefix="/api/v1/me", tags=["workbench"])

OPEN_ORDERS = [OrderState.DRAFT.value, OrderState.SUBMITTED.value, OrderState.IN_PROGRESS.value]
OPEN_COMPLAINTS = [ComplaintState.CREATED.value, ComplaintState.DISPATCHED.value, ComplaintState.RESOLVED.value,
                   ComplaintState.REVISITED.value]


class Risk(BaseModel):
    level: str | None = Field(description="escalated | breached | warning, or null")
    ticket_id: str | None
    sla: SlaOut | None


class WorkbenchOrder(BaseModel):
    risk: Risk
    order: OrderOut


class WorkbenchComplaint(BaseModel):
    risk: Risk
    complaint: ComplaintOut


class Workbench(BaseModel):
    account_manager_id: str | None = Field(description="whose work this is (null: everyone's, for a supervisor)")
    at_risk: int = Field(description="open orders and complaints with an SLA warning, breach or escalation")
    orders: list[WorkbenchOrder]
    complaints: list[WorkbenchComplaint]


def _risk(ticket_list: list[TicketOut]) -> tuple[Risk, tuple[Any, ...]]:
    worst: TicketOut | None = None
    for t in ticket_list:
        if t.sla is None:
            continue
        if worst is None or worst.sla is None or (RISK_RANK[t.sla.level], -t.sla.deadline.timestamp()) > (
            RISK_RANK[worst.sla.level], -worst.sla.deadline.timestamp()
        ):
            worst = t
    if worst is None or worst.sla is None:
        return Risk(level=None, ticket_id=None, sla=None), (0, float("inf"))
    return (Risk(level=worst.sla.level, ticket_id=worst.ticket_id, sla=worst.sla),
            (RISK_RANK[worst.sla.level], worst.sla.deadline.timestamp()))


async def _rows(session: SessionDep, stmt: Select[Any], table: Table, origin: str, limit: int) -> list[Any]:
    """Every open one at SLA risk, then the newest others up to `limit`."""
    at_risk = (
        select(tickets.c.origin_id)
        .join(sla_alerts, sla_alerts.c.ticket_id == tickets.c.ticket_id)
        .where(tickets.c.origin == origin, sla_alerts.c.level.in_(list(RISK_RANK)))
    )
    risky = (await session.execute(stmt.where(table.c.id.in_(at_risk)))).all()
    newest = (await session.execute(stmt.order_by(table.c.created_at.desc()).limit(limit))).all()
    seen: set[str] = set()
    out = []
    for r in [*risky, *newest]:
        if r.id not in seen:
            seen.add(r.id)
            out.append(r)
    return out


def _key(rank: tuple[Any, ...], created_at: datetime) -> tuple[Any, ...]:
    return (-rank[0], rank[1], -created_at.timestamp())


@router.get("/workbench", response_model=Workbench, summary="My customers' open orders and complaints, SLA risk first")
async def workbench(
    session: SessionDep, principal: CustomerReaderDep,
    manager: Annotated[str | None, Query(description="supervisor/admin: one account manager's workbench")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> Workbench:
    scope = access.customer_reader(principal)
    who = scope.owner if scope.owner is not None else manager
    order_stmt = select(orders).where(orders.c.status.in_(OPEN_ORDERS))
    complaint_stmt = select(complaints).where(complaints.c.status.in_(OPEN_COMPLAINTS))
    if who is not None:
        order_stmt = order_stmt.where(orders.c.account_manager_id == who)
        complaint_stmt = complaint_stmt.where(complaints.c.account_manager_id == who)
    order_rows = await _rows(session, order_stmt, orders, "order", limit)
    complaint_rows = await _rows(session, complaint_stmt, complaints, "complaint", limit)
    ranked_orders = []
    for o in await orders_out(session, order_rows):
        risk, rank = _risk(o.tickets)
        ranked_orders.append((_key(rank, o.created_at), WorkbenchOrder(risk=risk, order=o)))
    ranked_complaints = []
    for c in await complaints_out(session, complaint_rows):
        risk, rank = _risk(c.tickets)
        ranked_complaints.append((_key(rank, c.created_at), WorkbenchComplaint(risk=risk, complaint=c)))
    ranked_orders.sort(key=lambda x: x[0])
    ranked_complaints.sort(key=lambda x: x[0])
    at_risk = sum(1 for _, w in ranked_orders if w.risk.level) + sum(1 for _, w in ranked_complaints if w.risk.level)
    return Workbench(account_manager_id=who, at_risk=at_risk, orders=[w for _, w in ranked_orders],
                     complaints=[w for _, w in ranked_complaints])
