"""/api/v1/timers (a ticket's timers) and /api/v1/at-risk (open timers nearest their deadline)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, TypeAdapter
from sqlalchemy import select

from backbone.pagination import Page
from backbone.problems import Problem, field_error
from sla.api.deps import ContextDep, ReaderDep, SessionDep
from sla.domain.timer import TimerState, countdown
from sla.models import alerts, timers
from sla.services import board
from sla.services.timers import load_timer

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
    customer_region: str | None
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
    used_s: float = Field(description="time used on the rule's clock (business time for a working-hours rule), "
                                      "now for an open timer, at the end for a closed one")
    remaining_s: float = Field(description="time left on the rule's clock (negative once past the limit)")
    clock_running: bool = Field(description="whether the clock counts now (open, not paused, inside working time)")
    schedule: list[ActionOut]


class TimerPage(BaseModel):
    items: list[TimerOut]


class AlertOut(BaseModel):
    event_id: str
    type: str = Field(description="sla.warning | sla.breached | sla.escalated | sla.met, and the feed's own "
                                  "sla.timer_started / sla.timer_cancelled")
    action: str = Field(description="the schedule's action key (warning:50%, breach, escalation:1), or met, "
                                    "started, cancelled")
    due_at: datetime | None
    fired_at: datetime
    fired_by: str = Field(description="the instance that recorded it")
    data: dict[str, Any]


_FROM_STATE = ("schedule", "paused_at", "remaining_s_at_pause", "used_s", "remaining_s", "clock_running")
_DURATION = TypeAdapter(timedelta)


@router.get("/timers", response_model=TimerPage, summary="The SLA timers of one ticket, oldest first")
async def list_timers(session: SessionDep, context: ContextDep, _: ReaderDep,
                      ticket_id: str = Query(min_length=1, max_length=40)) -> TimerPage:
    rows = (await session.execute(
        select(timers).where(timers.c.ticket_id == ticket_id).order_by(timers.c.started_at, timers.c.id)
    )).all()
    now = datetime.now(UTC)
    items = []
    for r in rows:
        data = r.state_data  # the domain timer: schedule and pause details live there
        remaining = data.get("remaining")
        c = countdown(await load_timer(session, context.policies, r), now)
        items.append(TimerOut(
            **{k: getattr(r, k) for k in TimerOut.model_fields if k not in _FROM_STATE},
            paused_at=data.get("paused_at"),
            remaining_s_at_pause=_DURATION.validate_python(remaining).total_seconds() if remaining is not None
            else None,
            used_s=c.used.total_seconds(), remaining_s=c.remaining.total_seconds(), clock_running=c.running,
            schedule=[ActionOut.model_validate(a) for a in data.get("schedule", [])],
        ))
    return TimerPage(items=items)


@router.get("/timers/{timer_id}/alerts", response_model=list[AlertOut],
            summary="What a timer recorded: warnings, breach, escalations, met, started, cancelled")
async def timer_alerts(timer_id: str, session: SessionDep, _: ReaderDep) -> list[AlertOut]:
    rows = (await session.execute(select(alerts).where(alerts.c.timer_id == timer_id).order_by(alerts.c.id))).all()
    if not rows and (await session.execute(select(timers.c.id).where(timers.c.id == timer_id))).first() is None:
        raise Problem(404, "Not found", f"timer {timer_id} not found")
    return [AlertOut(event_id=str(r.event_id), type=r.event_type, action=r.action, due_at=r.due_at,
                     fired_at=r.fired_at, fired_by=r.fired_by, data=r.data) for r in rows]


AtRiskItem = board.BoardTimer
#: The at-risk page serialised once, straight from the models: FastAPI's way for a `response_model`
#: (dump to dicts, validate them again, serialise) cost 2.7 times as much on 100 rows (issue 10's first
#: render: the board's first page). The OpenAPI document still says `Page[AtRiskItem]`.
_AT_RISK_PAGE = TypeAdapter(Page[AtRiskItem])

_STATE_NAMES = frozenset(s.value for s in board.OPEN_STATES)
_STATES = ", ".join(s.value for s in board.OPEN_STATES)


@router.get("/at-risk", response_model=Page[AtRiskItem],
            summary="Open timers nearest their deadline (overdue first): running, warned, breached, escalated; "
                    "keyset-paginated")
async def at_risk(
    session: SessionDep, context: ContextDep, _: ReaderDep,
    limit: int = Query(50, ge=1, le=500), cursor: str | None = None,
    state: Annotated[list[str] | None, Query(max_length=10, description=(
        f"states to list (repeat or comma-separate; among {_STATES}); default: all but paused"))] = None,
    node: str | None = Query(None, max_length=80), role: str | None = Query(None, max_length=80),
    account_manager_id: str | None = Query(None, max_length=80),
    tier: str | None = Query(None, pattern="^[ABC]$"),
    business_type: str | None = Query(None, max_length=120, description=(
        "a full business type (vpmn.opening) or a product (vpmn: all its business kinds)")),
    region: str | None = Query(None, max_length=60, description="the customer's region"),
    ticket_id: Annotated[list[str] | None, Query(max_length=200, description=(
        "only these tickets' timers (repeat, at most 200): e.g. the SLA deadlines of a work queue's page"))] = None,
) -> Response:
    names = [n.strip() for v in state or () for n in v.split(",") if n.strip()]
    if bad := [n for n in names if n not in _STATE_NAMES]:
        raise field_error("state", f"{bad} are not open states; choose among {_STATES}")
    states = tuple(dict.fromkeys(TimerState(n) for n in names)) or board.DEFAULT_STATES
    items, next_cursor = await board.at_risk(
        session, context.policies, now=datetime.now(UTC), states=states, limit=limit, cursor=cursor, node=node,
        role=role, account_manager_id=account_manager_id, tier=tier, business_type=business_type, region=region,
        ticket_ids=ticket_id or ())
    return Response(_AT_RISK_PAGE.dump_json(Page[AtRiskItem](items=items, next_cursor=next_cursor)),
                    media_type="application/json")
