"""Ops / KPI reports over the timers table.

Compliance over a period [from, to): a timer is judged once it can no longer change its verdict:
completed in the period (on time or late), or still open but already past its deadline, with the
deadline in the period (it can only end late). Cancelled timers are not judged.
compliance % = on time / judged.

Node times: business time used (on the timer's SLA clock) and wall time, of timers completed in
the period: count, mean, p50, p90.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from sla.models import timers

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
