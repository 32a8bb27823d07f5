"""Ops / KPI reports over the timers table.

Compliance over a period [from, to): a timer is judged once it can no longer change its verdict:
completed in the period (on time or late), or still open but already past its deadline, with the
deadline in the period (it can only end late). Cancelled timers are not judged.
compliance % = on time / judged.

Node times: business time used (on the timer's SLA clock) and wall time, of timers completed in
the period: count, mean, p50, p90.

Breaches per day: the `sla.breached` and `sla.escalated` alerts fired in the period, by local day of a
time zone (Asia/Shanghai by default), every day of the period listed (zeros included); optionally per
group as well (then only the days a group had some).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from sla.models import BREACH_TYPES, alerts, timers

GroupBy = Literal["node", "business_type", "ticket_kind", "tier", "account_manager", "role"]

# `role` is the department proxy: each node belongs to a role (network_resource, transmission…).
GROUP_COLUMNS: dict[str, ColumnElement[Any]] = {
    "node": timers.c.node,
    "business_type": timers.c.business_type,
    "ticket_kind": timers.c.ticket_kind,
    "tier": timers.c.customer_tier,
    "account_manager": timers.c.account_manager_id,
    "role": timers.c.role,
}


async def compliance(
    session: AsyncSession, *, group_by: GroupBy, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    grp = GROUP_COLUMNS[group_by].label("group")
    completed = timers.c.completed_at.is_not(None)
    judged = or_(
        and_(timers.c.completed_at >= start, timers.c.completed_at < end),
        and_(timers.c.completed_at.is_(None), timers.c.cancelled_at.is_(None),
             timers.c.state.in_(("breached", "escalated")), timers.c.deadline >= start, timers.c.deadline < end),
    )
    q = (
        select(
            grp,
            func.count().label("judged"),
            func.count().filter(and_(completed, timers.c.met_late.is_(False))).label("on_time"),
            func.count().filter(and_(completed, timers.c.met_late.is_(True))).label("completed_late"),
            func.count().filter(timers.c.completed_at.is_(None)).label("open_breached"),
        )
        .where(judged).group_by(grp).order_by(grp)
    )
    out = []
    for r in (await session.execute(q)).all():
        out.append({
            "group": r.group, "judged": r.judged, "on_time": r.on_time, "completed_late": r.completed_late,
            "open_breached": r.open_breached, "compliance_pct": round(100.0 * r.on_time / r.judged, 2),
        })
    return out


async def node_times(
    session: AsyncSession, *, group_by: GroupBy, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    grp = GROUP_COLUMNS[group_by].label("group")
    wall = func.extract("epoch", timers.c.completed_at - timers.c.started_at)
    q = (
        select(
            grp,
            func.count().label("completed"),
            func.avg(timers.c.elapsed_s).label("mean_s"),
            func.percentile_cont(0.5).within_group(timers.c.elapsed_s).label("p50_s"),
            func.percentile_cont(0.9).within_group(timers.c.elapsed_s).label("p90_s"),
            func.avg(wall).label("mean_wall_s"),
            func.percentile_cont(0.9).within_group(wall).label("p90_wall_s"),
        )
        .where(timers.c.completed_at >= start, timers.c.completed_at < end)
        .group_by(grp).order_by(grp)
    )
    return [
        {"group": r.group, "completed": r.completed,
         **{k: round(float(getattr(r, k)), 3) for k in ("mean_s", "p50_s", "p90_s", "mean_wall_s", "p90_wall_s")}}
        for r in (await session.execute(q)).all()
    ]


def days_of(start: datetime, end: datetime, tz: str) -> list[date]:
    """The local days of `tz` that [start, end) touches, in order."""
    zone = ZoneInfo(tz)
    first, last = start.astimezone(zone).date(), (end - timedelta(microseconds=1)).astimezone(zone).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


async def breaches_per_day(
    session: AsyncSession, *, start: datetime, end: datetime, tz: str, group_by: GroupBy | None = None
) -> list[dict[str, Any]]:
    """`[{day, group, breached, escalated}]`: breaches and escalations fired per local day (of `tz`)."""
    # The zone inline (it is a validated zone name), so the SELECT and the GROUP BY are one expression.
    day = func.date(func.timezone(literal(tz, literal_execute=True), alerts.c.fired_at)).label("day")
    breached = func.count().filter(alerts.c.event_type == BREACH_TYPES[0]).label("breached")
    escalated = func.count().filter(alerts.c.event_type == BREACH_TYPES[1]).label("escalated")
    # The types inline: the partial index `ix_sla_alerts_fired` holds these rows only, which the planner proves
    # from constants, not from a generic plan's parameters.
    types = alerts.c.event_type.in_([literal(t, literal_execute=True) for t in BREACH_TYPES])
    where = (types, alerts.c.fired_at >= start, alerts.c.fired_at < end)
    if group_by is None:
        q = select(day, breached, escalated).where(*where).group_by(day)
        found = {r.day: r for r in (await session.execute(q)).all()}
        return [{"day": d, "group": None, "breached": found[d].breached if d in found else 0,
                 "escalated": found[d].escalated if d in found else 0} for d in days_of(start, end, tz)]
    grp = GROUP_COLUMNS[group_by].label("group")
    q = (select(day, grp, breached, escalated).select_from(alerts.join(timers, timers.c.id == alerts.c.timer_id))
         .where(*where).group_by(day, grp).order_by(day, grp))
    return [{"day": r.day, "group": r.group, "breached": r.breached, "escalated": r.escalated}
            for r in (await session.execute(q)).all()]
