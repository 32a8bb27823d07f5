"""The figures, read from the facts for a range of local days (Asia/Shanghai, both ends included).

Counting is done by the database (GROUP BY over the day index); what needs every value (mean, p90,
on-time %) is computed by the pure functions of `stats.domain.figures`. `account_manager` narrows a
figure to one account manager's customers (an account manager reads only their own).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlalchemy import Select, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from stats.domain import figures as f
from stats.domain.roster import UNASSIGNED, Roster
from stats.models import complaints, order_items

Dimension = Literal["day", "product", "channel", "region"]
ComplaintDimension = Literal["day", "product", "region", "category", "severity"]
SatisfactionBy = Literal["product", "account_manager"]
OpportunityBy = Literal["account_manager", "channel"]
TimelinessBy = Literal["person", "department"]
NO_PRODUCT = "generic"  # a complaint naming no product
UNKNOWN = "unknown"  # a dimension the event did not carry (older events have no region)


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # included


async def order_volumes(session: AsyncSession, period: Period, group_by: Sequence[Dimension], *,
                        account_manager: str | None = None) -> list[dict[str, Any]]:
    """Orders and order items submitted per (day, product, channel, region), as grouped."""
    t = order_items.c
    cols = {"day": t.day, "product": t.product, "channel": t.channel,
            "region": func.coalesce(t.region, literal(UNKNOWN))}
    keys = [cols[d].label(d) for d in group_by]
    stmt: Select[Any] = select(*keys, func.count(func.distinct(t.order_id)).label("orders"),
                               func.count().label("items")).where(t.day >= period.start, t.day <= period.end)
    if account_manager is not None:
        stmt = stmt.where(t.account_manager_id == account_manager)
    if keys:
        stmt = stmt.group_by(*keys).order_by(*keys)
    return [dict(r._mapping) for r in (await session.execute(stmt)).all()]


async def complaint_volumes(session: AsyncSession, period: Period, group_by: Sequence[ComplaintDimension], *,
                            account_manager: str | None = None) -> list[dict[str, Any]]:
    """Complaints created per (day, product, region, category, severity), as grouped."""
    t = complaints.c
    cols = {"day": t.day, "product": func.coalesce(t.product, literal(NO_PRODUCT)), "category": t.category,
            "severity": t.severity, "region": func.coalesce(t.region, literal(UNKNOWN))}
    keys = [cols[d].label(d) for d in group_by]
    stmt: Select[Any] = select(*keys, func.count().label("complaints")).where(
        t.day >= period.start, t.day <= period.end)
    if account_manager is not None:
        stmt = stmt.where(t.account_manager_id == account_manager)
    if keys:
        stmt = stmt.group_by(*keys).order_by(*keys)
    return [dict(r._mapping) for r in (await session.execute(stmt)).all()]


_SATISFACTION = """
SELECT {group} AS grp, r.satisfaction AS score, count(*) AS n
FROM stats.revisits r LEFT JOIN stats.complaints c ON c.complaint_id = r.complaint_id
WHERE r.day BETWEEN :start AND :end {scope}
GROUP BY 1, 2
"""


async def satisfaction(session: AsyncSession, period: Period, by: SatisfactionBy, *,
                       account_manager: str | None = None) -> list[dict[str, Any]]:
    """Revisit scores (1..5) of complaints revisited in the period, per product or account manager."""
    group = (f"coalesce(c.product, CASE WHEN c.complaint_id IS NULL THEN '{UNKNOWN}' ELSE '{NO_PRODUCT}' END)"
             if by == "product" else f"coalesce(c.account_manager_id, '{UNKNOWN}')")
    scope = "AND c.account_manager_id = :am" if account_manager is not None else ""
    params: dict[str, Any] = {"start": period.start, "end": period.end}
    if account_manager is not None:
        params["am"] = account_manager
    counts: dict[str, dict[int, int]] = defaultdict(dict)
    for r in (await session.execute(text(_SATISFACTION.format(group=group, scope=scope)), params)).all():
        counts[r.grp][int(r.score)] = int(r.n)
    return [{"group": g, **f.satisfaction_summary(scores)} for g, scores in sorted(counts.items())]


_OPPORTUNITIES = """
SELECT {group} AS grp, coalesce(last.to_status, 'open') AS status, count(*) AS n
FROM stats.opportunities o
LEFT JOIN LATERAL (
    SELECT ch.to_status FROM stats.opportunity_changes ch WHERE ch.opportunity_id = o.opportunity_id
    ORDER BY ch.changed_at DESC, ch.event_id DESC LIMIT 1) last ON true
WHERE o.day BETWEEN :start AND :end {scope}
GROUP BY 1, 2
"""


async def opportunity_conversion(session: AsyncSession, period: Period, by: OpportunityBy, *,
                                 account_manager: str | None = None) -> list[dict[str, Any]]:
    """Of the opportunities created in the period: how many are confirmed, lost, still open, per group."""
    group = "o.account_manager_id" if by == "account_manager" else "o.channel"
    scope = "AND o.account_manager_id = :am" if account_manager is not None else ""
    params: dict[str, Any] = {"start": period.start, "end": period.end}
    if account_manager is not None:
        params["am"] = account_manager
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for r in (await session.execute(text(_OPPORTUNITIES.format(group=group, scope=scope)), params)).all():
        counts[r.grp][r.status] = int(r.n)
    return [{"group": g, **f.conversion_summary(c)} for g, c in sorted(counts.items())]


# A visit's time: each completion in the period paired with the latest entry of the same (ticket, node)
# at or before it; the person is the completion's assignee, else the last one assigned before it.
_VISITS = """
SELECT coalesce(c.assignee, asg.assignee) AS person,
       extract(epoch FROM c.at - ent.at)::float8 AS seconds
FROM stats.node_events c
LEFT JOIN LATERAL (
    SELECT e.at FROM stats.node_events e
    WHERE e.kind = 'entered' AND e.ticket_id = c.ticket_id AND e.node = c.node AND e.at <= c.at
    ORDER BY e.at DESC LIMIT 1) ent ON true
LEFT JOIN LATERAL (
    SELECT a.assignee FROM stats.node_events a
    WHERE a.kind = 'assigned' AND a.ticket_id = c.ticket_id AND a.node = c.node AND a.at <= c.at
    ORDER BY a.at DESC LIMIT 1) asg ON true
WHERE c.kind = 'completed' AND c.day BETWEEN :start AND :end
"""

# The SLA's verdicts in the period: met (on time or late), breaches, escalations; the person is the alert's
# assignee, else the node's last assignee (or completer) known at the alert's time.
_VERDICTS = """
SELECT coalesce(s.assignee, who.assignee) AS person, s.kind, s.late, count(*) AS n
FROM stats.sla_alerts s
LEFT JOIN LATERAL (
    SELECT n.assignee FROM stats.node_events n
    WHERE n.ticket_id = s.ticket_id AND n.node = s.node AND n.assignee IS NOT NULL AND n.at <= s.at
    ORDER BY n.at DESC LIMIT 1) who ON true
WHERE s.day BETWEEN :start AND :end
GROUP BY 1, 2, 3
"""


async def timeliness(session: AsyncSession, period: Period, by: TimelinessBy, roster: Roster, *,
                     departments: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """On-time %, mean and p90 node time, breaches and escalations per person or department.

    `departments`: only people of these departments (a department head's own), None for everyone.
    """
    params = {"start": period.start, "end": period.end}
    durations: dict[str, list[float]] = defaultdict(list)
    verdicts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def key(person: str | None) -> str | None:
        dept = roster.department_of(person)
        if departments is not None and dept not in departments:
            return None
        return dept if by == "department" else (person or UNASSIGNED)

    for r in (await session.execute(text(_VISITS), params)).all():
        k = key(r.person)
        if k is not None and r.seconds is not None:
            durations[k].append(float(r.seconds))
    for r in (await session.execute(text(_VERDICTS), params)).all():
        k = key(r.person)
        if k is None:
            continue
        name = "met_late" if r.kind == "met" and r.late else "met_on_time" if r.kind == "met" else r.kind
        verdicts[k][name] += int(r.n)
    rows = []
    for k in sorted(set(durations) | set(verdicts)):
        dept = k if by == "department" else roster.department_of(None if k == UNASSIGNED else k)
        rows.append({"group": k, "department": dept, "department_name": roster.name_of(dept),
                     **f.timeliness_summary(durations.get(k, []), verdicts.get(k, {}))})
    return rows
