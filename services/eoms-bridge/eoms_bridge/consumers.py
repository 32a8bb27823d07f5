"""What the bridge consumes: submitted / cancelled orders and new complaints from the CRM.

A partition's run of events is applied in one transaction (`make_batch_applier`, the consumer's
`apply_run`): consecutive `crm.order.submitted` set-based (`tickets.open_tickets_for_orders`: one read
of the database clock and the run's latest workflows, `WorkflowStore.now_and_latest`, then one statement for the
tickets, their history and their events), the rest one by one through the handlers, in partition order. A run
that fails is retried event by event (the runner), so a submitted order without a workflow still reaches the DLQ
alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from sqlalchemy.ext.asyncio import AsyncSession

from backbone.consumer import BatchApplier, Handler, PermanentError
from backbone.correlation import reset_correlation_id, set_correlation_id
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
        now = await store.now_and_latest(session, {i.business_type for i in order.items})
        try:
            await tickets.open_tickets_for_order(session, store=store, order=order, now=now,
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


def make_batch_applier(context: EomsContext, handlers: dict[str, Handler]) -> BatchApplier:
    """The consumer's `apply_run` over `handlers` (the merged ones: the TMF hub's fan-out included)."""
    store, forward = context.store, context.forwarding
    org, eoms_partner = context.organisation, context.eoms_partner

    async def apply(session: AsyncSession, events: Sequence[Envelope]) -> None:
        for etype, group in groupby(events, key=lambda e: e.type):
            run = list(group)
            if etype == "crm.order.submitted" and len(run) > 1:
                orders = [(e.payload(OrderSubmitted), e.correlation_id) for e in run]
                now = await store.now_and_latest(session, {i.business_type for o, _ in orders for i in o.items})
                await tickets.open_tickets_for_orders(session, store=store, orders=orders, now=now, forward=forward,
                                                      org=org, eoms_partner=eoms_partner)
                continue
            for e in run:
                token = set_correlation_id(e.correlation_id)
                try:
                    await handlers[etype](session, e)
                finally:
                    reset_correlation_id(token)

    return apply
