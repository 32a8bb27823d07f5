"""Recording the facts of the read model (the consumer and the rebuild share this).

Each event becomes insert-only rows keyed by what makes the fact unique (`stats.models`): applying an
event twice, or events of different topics in any order, gives the same tables. So a run of events is
recorded set-based: the rows of every event, one multi-row `INSERT ... ON CONFLICT DO NOTHING` per table
(`record_many`: the consumer's `apply_run` and the rebuild's batches); `record` is the one-event path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.envelope import Envelope
from backbone.events import (
    ComplaintCreated,
    ComplaintStatusChanged,
    OpportunityCreated,
    OpportunityStatusChanged,
    OrderSubmitted,
    SlaBreached,
    SlaEscalated,
    SlaMet,
    TicketNodeAssigned,
    TicketNodeCompleted,
    TicketNodeEntered,
)
from stats.domain.figures import local_day
from stats.models import (
    complaints,
    node_events,
    opportunities,
    opportunity_changes,
    order_items,
    revisits,
    sla_alerts,
)

Rows = list[tuple[Table, dict[str, Any]]]
RowsOf = Callable[[Envelope], Rows]
CHUNK = 1000  # rows per INSERT (PostgreSQL takes at most 65,535 parameters per statement)


async def _insert(session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    for i in range(0, len(rows), CHUNK):
        await session.execute(insert(table).values(list(rows[i:i + CHUNK])).on_conflict_do_nothing())


def order_submitted(event: Envelope) -> Rows:
    e = event.payload(OrderSubmitted)
    day = local_day(e.submitted_at)
    return [(order_items, r) for r in [{
        "order_id": e.order_id, "item_id": item.item_id, "day": day, "product": item.product,
        "business_type": item.business_type, "channel": e.channel, "region": e.customer_region,
        "customer_id": e.customer_id, "account_manager_id": e.account_manager_id, "submitted_at": e.submitted_at,
    } for item in e.items]]


def complaint_created(event: Envelope) -> Rows:
    e = event.payload(ComplaintCreated)
    return [(complaints, {
        "complaint_id": e.complaint_id, "day": local_day(e.created_at), "product": e.product,
        "category": e.category, "severity": e.severity, "region": e.customer_region, "customer_id": e.customer_id,
        "account_manager_id": e.account_manager_id, "created_at": e.created_at,
    })]


def complaint_status_changed(event: Envelope) -> Rows:
    e = event.payload(ComplaintStatusChanged)
    if e.satisfaction is None:  # only a revisit carries a score
        return []
    return [(revisits, {
        "event_id": str(event.id), "complaint_id": e.complaint_id, "day": local_day(e.changed_at),
        "satisfaction": e.satisfaction, "revisited_at": e.changed_at,
    })]


def opportunity_created(event: Envelope) -> Rows:
    e = event.payload(OpportunityCreated)
    return [(opportunities, {
        "opportunity_id": e.opportunity_id, "day": local_day(e.created_at), "channel": e.channel,
        "customer_id": e.customer_id, "account_manager_id": e.account_manager_id, "created_at": e.created_at,
    })]


def opportunity_status_changed(event: Envelope) -> Rows:
    e = event.payload(OpportunityStatusChanged)
    return [(opportunity_changes, {
        "event_id": str(event.id), "opportunity_id": e.opportunity_id, "to_status": e.to_status,
        "changed_at": e.changed_at,
    })]


def _node_row(event: Envelope, kind: str, e: TicketNodeEntered | TicketNodeCompleted | TicketNodeAssigned,
              at: Any) -> dict[str, Any]:
    return {"event_id": str(event.id), "kind": kind, "ticket_id": e.ticket_id, "node": e.node, "role": e.role,
            "assignee": e.assignee, "business_type": e.business_type, "region": e.customer_region,
            "day": local_day(at), "at": at}


def node_entered(event: Envelope) -> Rows:
    e = event.payload(TicketNodeEntered)
    return [(node_events, _node_row(event, "entered", e, e.entered_at))]


def node_completed(event: Envelope) -> Rows:
    e = event.payload(TicketNodeCompleted)
    return [(node_events, _node_row(event, "completed", e, e.completed_at))]


def node_assigned(event: Envelope) -> Rows:
    e = event.payload(TicketNodeAssigned)
    return [(node_events, _node_row(event, "assigned", e, e.assigned_at))]


def _alert_row(event: Envelope, kind: str, e: SlaMet | SlaBreached | SlaEscalated, **extra: Any) -> dict[str, Any]:
    at = event.time
    return {"event_id": str(event.id), "kind": kind, "timer_id": e.timer_id, "ticket_id": e.ticket_id,
            "node": e.node, "role": e.role, "assignee": e.assignee, "late": None, "level": None,
            "day": local_day(at), "at": at, **extra}


def sla_met(event: Envelope) -> Rows:
    e = event.payload(SlaMet)
    return [(sla_alerts, _alert_row(event, "met", e, late=e.late))]


def sla_breached(event: Envelope) -> Rows:
    e = event.payload(SlaBreached)
    return [(sla_alerts, _alert_row(event, "breached", e))]


def sla_escalated(event: Envelope) -> Rows:
    e = event.payload(SlaEscalated)
    return [(sla_alerts, _alert_row(event, "escalated", e, level=e.level))]


#: Every event type the read model records, and the rows it becomes.
ROWS: dict[str, RowsOf] = {
    "crm.order.submitted": order_submitted,
    "crm.complaint.created": complaint_created,
    "crm.complaint.status_changed": complaint_status_changed,
    "crm.opportunity.created": opportunity_created,
    "crm.opportunity.status_changed": opportunity_status_changed,
    "eoms.ticket.node_entered": node_entered,
    "eoms.ticket.node_completed": node_completed,
    "eoms.ticket.node_assigned": node_assigned,
    "sla.met": sla_met,
    "sla.breached": sla_breached,
    "sla.escalated": sla_escalated,
}


async def record_many(session: AsyncSession, events: Sequence[Envelope]) -> int:
    """Record the facts of a run of events, one multi-row insert per table; how many events were kept
    (a type the read model does not count is skipped). A payload that does not validate raises
    MalformedEvent before anything is written."""
    rows: Rows = []
    kept = 0
    for event in events:
        rows_of = ROWS.get(event.type)
        if rows_of is not None:
            rows += rows_of(event)
            kept += 1
    await insert_rows(session, rows)
    return kept


async def insert_rows(session: AsyncSession, rows: Rows) -> None:
    """The rows of a run, one multi-row insert per table (chunked)."""
    by_table: dict[Table, list[dict[str, Any]]] = defaultdict(list)
    for table, row in rows:
        by_table[table].append(row)
    for table, table_rows in by_table.items():
        await _insert(session, table, table_rows)


async def record(session: AsyncSession, event: Envelope) -> bool:
    """Record one event's facts; False for a type the read model does not keep."""
    return await record_many(session, [event]) == 1
