"""Timer use cases: start/stop from ticket events, fire due timers. Each in the caller's transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.envelope import Envelope
from backbone.events import AlertContext, SlaBreached, SlaMet, TicketNodeCompleted, TicketNodeEntered
from backbone.ids import new_id
from backbone.outbox import add_event
from sla.models import outbox, timers

SOURCE = "sla"
POLICY_VERSION = "default"


def _context(e: TicketNodeEntered | TicketNodeCompleted) -> dict[str, object]:
    return {
        "ticket_id": e.ticket_id, "ticket_kind": e.ticket_kind, "business_type": e.business_type, "node": e.node,
        "role": e.role, "assignee": e.assignee, "customer_id": e.customer_id, "customer_name": e.customer_name,
        "customer_tier": e.customer_tier, "account_manager_id": e.account_manager_id,
    }


async def start_timer(session: AsyncSession, *, entered: TicketNodeEntered, limit: timedelta) -> None:
    deadline = entered.entered_at + limit
    await session.execute(
        insert(timers).values(
            id=new_id("tmr"), ticket_id=entered.ticket_id, node=entered.node, state="running",
            started_at=entered.entered_at, deadline=deadline, next_fire_at=deadline, context=_context(entered),
            policy_version=POLICY_VERSION,
        ).on_conflict_do_nothing(index_elements=[timers.c.ticket_id, timers.c.node])
    )


async def stop_timer(session: AsyncSession, *, completed: TicketNodeCompleted) -> None:
    row = (await session.execute(
        select(timers).where(timers.c.ticket_id == completed.ticket_id, timers.c.node == completed.node)
        .with_for_update()
    )).first()
    if row is None or row.state in ("met", "cancelled"):
        return
    at = completed.completed_at
    await session.execute(
        update(timers).where(timers.c.id == row.id).values(state="met", next_fire_at=None, stopped_at=at)
    )
    alert = AlertContext(timer_id=row.id, deadline=row.deadline, policy_version=row.policy_version, **row.context)
    await add_event(session, outbox, Envelope.wrap(
        SlaMet(**alert.model_dump(), elapsed_seconds=(at - row.started_at).total_seconds(), late=at > row.deadline),
        source=SOURCE, subject=row.ticket_id))


async def fire_due_timers(session: AsyncSession, *, now: datetime, batch_size: int) -> int:
    """Fire what is due. SKIP LOCKED lets several SLA instances share the work without double-firing."""
    rows = (await session.execute(
        select(timers).where(timers.c.next_fire_at <= now).order_by(timers.c.next_fire_at)
        .limit(batch_size).with_for_update(skip_locked=True)
    )).all()
    for row in rows:
        alert = AlertContext(timer_id=row.id, deadline=row.deadline, policy_version=row.policy_version, **row.context)
        await add_event(session, outbox, Envelope.wrap(
            SlaBreached(**alert.model_dump(), lateness_seconds=(now - row.deadline).total_seconds()),
            source=SOURCE, subject=row.ticket_id))
        await session.execute(update(timers).where(timers.c.id == row.id).values(state="breached", next_fire_at=None))
    return len(rows)
