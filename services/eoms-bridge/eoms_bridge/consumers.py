"""What the bridge consumes: submitted / cancelled orders and new complaints from the CRM."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from backbone.consumer import Handler, PermanentError
from backbone.db import db_now
from backbone.envelope import Envelope
from backbone.events import ComplaintCreated, OrderCancelled, OrderSubmitted
from eoms_bridge.context import EomsContext
from eoms_bridge.domain.errors import WorkflowNotFoundError
from eoms_bridge.services import tickets


def make_handlers(context: EomsContext) -> dict[str, Handler]:
    store, forward = context.store, context.forwarding
    org, eoms_partner = context.organisation, context.eoms_partner

    async def on_order_submitted(session: AsyncSession, event: Envelope) -> None:
        order = event.payload(OrderSubmitted)
        try:
            await tickets.open_tickets_for_order(session, store=store, order=order, now=await db_now(session),
                                                 forward=forward, org=org, eoms_partner=eoms_partner)
        except WorkflowNotFoundError as exc:
            raise PermanentError(str(exc)) from exc  # no retry makes a workflow appear: DLQ with the reason

    async def on_order_cancelled(session: AsyncSession, event: Envelope) -> None:
        c = event.payload(OrderCancelled)
        await tickets.cancel_tickets_for_order(session, store=store, order_id=c.order_id, reason=c.reason,
                                               now=await db_now(session), forward=forward)

    async def on_complaint_created(session: AsyncSession, event: Envelope) -> None:
        complaint = event.payload(ComplaintCreated)
        try:
            await tickets.open_ticket_for_complaint(
                session, store=store, complaint=complaint, now=await db_now(session),
                generic_business_type=context.settings.generic_complaint_business_type, forward=forward, org=org,
                eoms_partner=eoms_partner)
        except WorkflowNotFoundError as exc:  # pragma: no cover - the start checks the generic workflow is there
            raise PermanentError(str(exc)) from exc

    return {
        "crm.order.submitted": on_order_submitted,
        "crm.order.cancelled": on_order_cancelled,
        "crm.complaint.created": on_complaint_created,
    }
