"""Recording the facts of the read model, one event at a time (the consumer and the rebuild share this).

Each event becomes insert-only rows keyed by what makes the fact unique (`stats.models`): applying an
event twice, or events of different topics in any order, gives the same tables.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
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

Recorder = Callable[[AsyncSession, Envelope], Awaitable[None]]


async def _insert(session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        await session.execute(insert(table).values(list(rows)).on_conflict_do_nothing())


async def order_submitted(session: AsyncSession, event: Envelope) -> None:
    e = event.payload(OrderSubmitted)
    day = local_day(e.submitted_at)
    await _insert(session, order_items, [{
        "order_id": e.order_id, "item_id": item.item_id, "day": day, "product": item.product,
        "business_type": item.business_type, "channel": e.channel, "region": e.customer_region,
        "customer_id": e.customer_id, "account_manager_id": e.account_manager_id, "submitted_at": e.submitted_at,
    } for item in e.items])


async def complaint_created(session: AsyncSession, event: Envelope) -> None:
    e = event.payload(ComplaintCreated)
    await _insert(session, complaints, [{
        "complaint_id": e.complaint_id, "day": local_day(e.created_at), "product": e.product,
        "category": e.category, "severity": e.severity, "region": e.customer_region, "customer_id": e.customer_id,
        "account_manager_id": e.account_manager_id, "created_at": e.created_at,
    }])


async def complaint_status_changed(session: AsyncSession, event: Envelope) -> None:
    e = event.payload(ComplaintStatusChanged)
    if e.satisfaction is None:  # only a revisit carries a score
        return
    await _insert(session, revisits, [{
        "event_id": str(event.id), "complaint_id": e.complaint_id, "day": local_day(e.changed_at),
        "satisfaction": e.satisfaction, "revisited_at": e.changed_at,
    }])


async def opportunity_created(session: AsyncSession, event: Envelope) -> None:
    e = event.payload(OpportunityCreated)
    await _insert(session, opportunities, [{
        "opportunity_id": e.opportunity_id, "day": local_day(e.created_at), "channel": e.channel,
        "customer_id": e.customer_id, "account_manager_id": e.account_manager_id, "created_at": e.created_at,
    }])


async def opportunity_status_changed(session: AsyncSession, event: Envelope) -> None:
    e = event.payload(OpportunityStatusChanged)
    await _insert(session, opportunity_changes, [{
        "event_id": str(event.id), "opportunity_id": e.opportunity_id, "to_status": e.to_status,
        "changed_at": e.changed_at,
    }])


def _node_row(event: Envelope, kind: str, e: TicketNodeEntered | TicketNodeCompleted | TicketNodeAssigned,
              at: Any) -> dict[str, Any]:
    return {"event_id": str(event.id), "kind": kind, "ticket_id": e.ticket_id, "node": e.node, "role": e.role,
            "assignee": e.assignee, "business_type": e.business_type, "region": e.customer_region,
            "day": local_day(at), "at": at}


async def node_entered(session: AsyncSession, event: Envelope) -> None:
    e = event.payload(TicketNodeEntered)
    await _insert(session, node_events, [_node_row(event, "entered", e, e.entered_at)])


async def node_completed(session: AsyncSession, event: Envelope) -> None:
    e = event.payload(TicketNodeCompleted)
    await _insert(session, node_events, [_node_row(event, "completed", e, e.completed_at)])


async def node_assigned(session: AsyncSession, event: Envelope) -> None:
    e = event.payload(TicketNodeAssigned)
    await _insert(session, node_events, [_node_row(event, "assigned", e, e.assigned_at)])


def _alert_row(event: Envelope, kind: str, e: SlaMet | SlaBreached | SlaEscalated, **extra: Any) -> dict[str, Any]:
    at = event.time
    return {"event_id": str(event.id), "kind": kind, "timer_id": e.timer_id, "ticket_id": e.ticket_id,
            "node": e.node, "role": e.role, "assignee": e.assignee, "late": None, "level": None,
            "day": local_day(at), "at": at, **extra}


async def sla_met(session: AsyncSession, event: Envelope) -> None:
    e = event.payload(SlaMet)
    await _insert(session, sla_alerts, [_alert_row(event, "met", e, late=e.late)])


async def sla_breached(session: AsyncSession, event: Envelope) -> None:
    e = event.payload(SlaBreached)
    await _insert(session, sla_alerts, [_alert_row(event, "breached", e)])


async def sla_escalated(session: AsyncSession, event: Envelope) -> None:
    e = event.payload(SlaEscalated)
    await _insert(session, sla_alerts, [_alert_row(event, "escalated", e, level=e.level)])


#: Every event type the read model records, and how.
RECORDERS: dict[str, Recorder] = {
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


async def record(session: AsyncSession, event: Envelope) -> bool:
    """Record one event's facts; False for a type the read model does not keep."""
    recorder = RECORDERS.get(event.type)
    if recorder is None:
        return False
    await recorder(session, event)
    return True
