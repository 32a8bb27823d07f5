"""The SLA board's view of timers: the at-risk list and the timer each live-feed record is about.

A `BoardTimer` is an open (or just closed) timer as a screen shows it: who and what it is about, its
rule and clock, and where it stands now on that clock, computed here because only the service knows
the calendar (Chinese statutory holidays and make-up working days included): business time used and
left, whether the clock counts at this instant and when that next changes. A screen counts down
exactly from these until `clock_changes_at`, without the policy or the calendar.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field, TypeAdapter
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.pagination import fetch_page
from backbone.shapes import FrozenModel
from sla.domain.timer import TimerState, countdown_at
from sla.models import timers
from sla.services.policies import PolicyCatalog

#: What the at-risk list shows unless asked otherwise: every open timer whose clock runs.
DEFAULT_STATES: tuple[TimerState, ...] = (TimerState.RUNNING, TimerState.WARNED, TimerState.BREACHED,
                                          TimerState.ESCALATED)
#: The states an open timer can be in (a completed or cancelled one is never on the board).
OPEN_STATES: tuple[TimerState, ...] = (*DEFAULT_STATES, TimerState.PAUSED)
IS_OPEN = timers.c.completed_at.is_(None) & timers.c.cancelled_at.is_(None)
_DURATION = TypeAdapter(timedelta)

_COLUMNS = (
    timers.c.id, timers.c.ticket_id, timers.c.node, timers.c.state, timers.c.ticket_kind, timers.c.business_type,
    timers.c.role, timers.c.assignee, timers.c.customer_id, timers.c.customer_name, timers.c.customer_tier,
    timers.c.customer_region, timers.c.account_manager_id, timers.c.policy_version, timers.c.rule_id,
    timers.c.started_at, timers.c.deadline, timers.c.escalation_level, timers.c.completed_at, timers.c.cancelled_at,
    timers.c.state_data,
)


class BoardTimer(FrozenModel):
    id: str
    ticket_id: str
    node: str
    state: str = Field(description="running | warned | breached | escalated | paused (met / cancelled once closed)")
    open: bool = Field(description="false once completed (on time or late: a late one stays breached or "
                                   "escalated) or cancelled")
    ticket_kind: str
    business_type: str
    role: str
    assignee: str | None
    customer_id: str
    customer_name: str
    customer_tier: str
    customer_region: str | None = Field(description="from the ticket events; null for timers started before "
                                                    "the events carried it")
    account_manager_id: str
    escalation_level: int
    policy_version: str
    rule_id: str
    clock: Literal["working", "calendar"] = Field(description="working: the rule counts its calendar's working "
                                                              "time; calendar: wall-clock 24x7")
    started_at: datetime
    deadline: datetime = Field(description="when the limit runs out (while paused: as computed before the pause)")
    seconds_to_deadline: float = Field(description="wall-clock seconds from `as_of` to the deadline")
    business_seconds_used: float = Field(description="time used on the rule's clock at `as_of`")
    business_seconds_left: float = Field(description="time left on the rule's clock at `as_of` (negative once "
                                                     "past the limit); holidays and make-up days counted")
    clock_running: bool = Field(description="whether the clock counts at `as_of` (open, not paused, inside "
                                            "working time)")
    clock_changes_at: datetime | None = Field(description="when the clock next starts or stops counting by "
                                                          "itself (a working period's start or end); null: never")
    as_of: datetime = Field(description="the instant the figures were computed")


async def board_timers(
    session: AsyncSession, catalog: PolicyCatalog, rows: Sequence[Any], now: datetime
) -> list[BoardTimer]:
    """The board's view of timer rows (rows with the `_COLUMNS`), computed at `now`."""
    out = []
    for r in rows:
        policy = await catalog.resolved(session, r.policy_version, r.rule_id)
        data = r.state_data
        closed = r.completed_at is not None or r.cancelled_at is not None
        c = countdown_at(policy, TimerState(r.state), _DURATION.validate_python(data["consumed"]),
                         datetime.fromisoformat(data["anchor_at"]), final=closed, at=now)
        out.append(BoardTimer(
            id=r.id, ticket_id=r.ticket_id, node=r.node, state=r.state, open=not closed, ticket_kind=r.ticket_kind,
            business_type=r.business_type, role=r.role, assignee=r.assignee, customer_id=r.customer_id,
            customer_name=r.customer_name, customer_tier=r.customer_tier, customer_region=r.customer_region,
            account_manager_id=r.account_manager_id, escalation_level=r.escalation_level,
            policy_version=r.policy_version, rule_id=r.rule_id, clock=policy.clock.value, started_at=r.started_at,
            deadline=r.deadline, seconds_to_deadline=(r.deadline - now).total_seconds(),
            business_seconds_used=c.used.total_seconds(), business_seconds_left=c.remaining.total_seconds(),
            clock_running=c.running, clock_changes_at=c.changes_at, as_of=now,
        ))
    return out


async def timers_by_id(
    session: AsyncSession, catalog: PolicyCatalog, ids: Sequence[str], now: datetime
) -> dict[str, BoardTimer]:
    if not ids:
        return {}
    rows = (await session.execute(select(*_COLUMNS).where(timers.c.id.in_(list(set(ids)))))).all()
    return {t.id: t for t in await board_timers(session, catalog, rows, now)}


def business_type_matches(value: str) -> ColumnElement[bool]:
    """A full business type (`vpmn.opening`), or a product (`vpmn`: all its business kinds), as policy
    rules name them."""
    if "." in value:
        return timers.c.business_type == value
    return or_(timers.c.business_type == value, timers.c.business_type.startswith(f"{value}.", autoescape=True))


async def at_risk(
    session: AsyncSession, catalog: PolicyCatalog, *, now: datetime, states: Sequence[TimerState],
    limit: int, cursor: str | None, node: str | None = None, role: str | None = None,
    account_manager_id: str | None = None, tier: str | None = None, business_type: str | None = None,
    region: str | None = None, ticket_ids: Sequence[str] = (),
) -> tuple[list[BoardTimer], str | None]:
    """Open timers in `states`, nearest their deadline first (overdue ones first of all), keyset-paginated
    on `(deadline, id)`."""
    q = select(*_COLUMNS).where(IS_OPEN, timers.c.state.in_([s.value for s in states]))
    for col, value in ((timers.c.node, node), (timers.c.role, role), (timers.c.account_manager_id, account_manager_id),
                       (timers.c.customer_tier, tier), (timers.c.customer_region, region)):
        if value is not None:
            q = q.where(col == value)
    if business_type is not None:
        q = q.where(business_type_matches(business_type))
    if ticket_ids:
        q = q.where(timers.c.ticket_id.in_(list(ticket_ids)))
    rows, next_cursor = await fetch_page(session, q, key=(timers.c.deadline, timers.c.id), cursor=cursor, limit=limit)
    return await board_timers(session, catalog, rows, now), next_cursor
