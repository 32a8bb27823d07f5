"""/api/v1/timers (a ticket's timers) and /api/v1/at-risk (open timers nearest their deadline)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import select

from backbone.pagination import Page, fetch_page
from backbone.problems import Problem
from sla.api.deps import ReaderDep, SessionDep
from sla.models import alerts, timers

router = APIRouter(prefix="/api/v1", tags=["timers"])


class ActionOut(BaseModel):
    key: str
    kind: str
    due_at: datetime | None
    fired_at: datetime | None
    level: int | None = None
    notify_role: str | None = None
    superseded: bool = False


class TimerOut(BaseModel):
    id: str
    ticket_id: str
    node: str
    state: str
    ticket_kind: str
    business_type: str
    role: str
    assignee: str | None
    customer_id: str
    customer_tier: str
    account_manager_id: str
    policy_version: str
    rule_id: str
    started_at: datetime
    deadline: datetime
    next_fire_at: datetime | None
    escalation_level: int
    completed_at: datetime | None
    cancelled_at: datetime | None
    met_late: bool | None
    elapsed_s: float | None
    paused_at: datetime | None
    remaining_s_at_pause: float | None
    schedule: list[ActionOut]


class TimerPage(BaseModel):
    items: list[TimerOut]


class AtRiskItem(BaseModel):
    id: str
    ticket_id: str
    node: str
    state: str
    role: str
    assignee: str | None
    customer_id: str
    customer_tier: str
    account_manager_id: str
    deadline: datetime
    seconds_to_deadline: float


_FROM_STATE = ("schedule", "paused_at", "remaining_s_at_pause")
_DURATION = TypeAdapter(timedelta)


def _timer_out(r: Any) -> TimerOut:
    data = r.state_data  # the domain timer: schedule and pause details live there
    remaining = data.get("remaining")
    return TimerOut(
        **{k: getattr(r, k) for k in TimerOut.model_fields if k not in _FROM_STATE},
        paused_at=data.get("paused_at"),
        remaining_s_at_pause=_DURATION.validate_python(remaining).total_seconds() if remaining is not None else None,
        schedule=[ActionOut.model_validate(a) for a in data.get("schedule", [])],
    )


@router.get("/timers", response_model=TimerPage, summary="The SLA timers of one ticket, oldest first")
async def list_timers(session: SessionDep, _: ReaderDep, ticket_id: str = Query(min_length=1, max_length=40)
                      ) -> TimerPage:
    rows = (await session.execute(
        select(timers).where(timers.c.ticket_id == ticket_id).order_by(timers.c.started_at, timers.c.id)
    )).all()
    return TimerPage(items=[_timer_out(r) for r in rows])


@router.get("/timers/{timer_id}/alerts", summary="What a timer emitted (warnings, breach, escalations)")
async def timer_alerts(timer_id: str, session: SessionDep, _: ReaderDep) -> list[dict[str, Any]]:
    rows = (await session.execute(select(alerts).where(alerts.c.timer_id == timer_id).order_by(alerts.c.id))).all()
    if not rows and (await session.execute(select(timers.c.id).where(timers.c.id == timer_id))).first() is None:
        raise Problem(404, "Not found", f"timer {timer_id} not found")
    return [{"event_id": str(r.event_id), "type": r.event_type, "action": r.action, "due_at": r.due_at,
             "fired_at": r.fired_at, "fired_by": r.fired_by, "data": r.data} for r in rows]


@router.get("/at-risk", response_model=Page[AtRiskItem],
            summary="Running (not yet breached) timers nearest their deadline, keyset-paginated")
async def at_risk(
    session: SessionDep, _: ReaderDep,
    limit: int = Query(50, ge=1, le=500), cursor: str | None = None,
    node: str | None = None, role: str | None = None, account_manager_id: str | None = None,
    tier: str | None = Query(None, pattern="^[ABC]$"),
) -> Page[AtRiskItem]:
    q = select(timers).where(timers.c.state.in_(("running", "warned")))
    for col, value in ((timers.c.node, node), (timers.c.role, role),
                       (timers.c.account_manager_id, account_manager_id), (timers.c.customer_tier, tier)):
        if value is not None:
            q = q.where(col == value)
    rows, next_cursor = await fetch_page(session, q, key=(timers.c.deadline, timers.c.id), cursor=cursor, limit=limit)
    now = datetime.now(UTC)
    items = [AtRiskItem(**{k: getattr(r, k) for k in AtRiskItem.model_fields if k != "seconds_to_deadline"},
                        seconds_to_deadline=(r.deadline - now).total_seconds()) for r in rows]
    return Page[AtRiskItem](items=items, next_cursor=next_cursor)
