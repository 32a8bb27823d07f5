"""TMF622 cancelProductOrder use cases: request, settle, read (rules in `crm.domain.cancellation`).

`request_cancellation` records the request (acknowledged: `crm.order.cancellation_requested`, the order
assessingCancellation) and assesses it in the same transaction: rejected with the reason when it is too
late, or accepted (in_progress, the order pendingCancellation): the order is cancelled through the order
lifecycle (`orders.apply_action`), whose `crm.order.cancelled` makes the EOMS bridge cancel the order's open
tickets. A request that lacks what it needs to be assessed (`crm.domain.information`: the cancellationReason
of an order in progress) waits, information_required (`crm.order.cancellation_information_required`), until
a new request of the same order brings it: that completes the waiting request, which is then assessed.
`settle` is called by the consumer on every ticket event of an order: once none of the order's tickets is
open, the request is done (the order cancelled). Each step but the wait emits
`crm.order.cancellation_state_changed`, subject the order id (one partition with the order's events).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.events import (
    OrderCancellationInformationRequired,
    OrderCancellationRequested,
    OrderCancellationStateChanged,
)
from backbone.ids import new_id
from backbone.outbox import emit
from crm.domain.cancellation import (
    ORDER_STATE_OF_CANCELLATION,
    TICKET_DONE_STATES,
    CancellationState,
    assess,
    cancellation_transition,
    settled,
    tmf_order_state,
)
from crm.domain.errors import EntityNotFound, InvalidField
from crm.domain.information import Missing, describe, missing_for_cancellation
from crm.domain.lifecycle import OrderAction, OrderState
from crm.domain.scope import Scope
from crm.models import order_cancellations, orders, tickets
from crm.services import orders as order_service

log = logging.getLogger("crm.cancellations")
#: how far ahead of now a requestedCancellationDate may be (a clock a little ahead is not a schedule)
SCHEDULE_TOLERANCE_S = 300


async def request_cancellation(session: AsyncSession, *, scope: Scope, order_id: str, reason: str | None,
                               requested_date: datetime | None) -> Any:
    """Record and assess a cancellation request; the stored row (rejected, in_progress, done, or waiting for
    information). A request of an order whose earlier request waits for information completes that one."""
    now = datetime.now(UTC)
    if requested_date is not None:
        when = requested_date if requested_date.tzinfo else requested_date.replace(tzinfo=UTC)
        if (when - now).total_seconds() > SCHEDULE_TOLERANCE_S:
            raise InvalidField("requestedCancellationDate",
                               "a cancellation is carried out at once: scheduled cancellations are not supported")
    order = (await session.execute(select(orders).where(orders.c.id == order_id).with_for_update())).first()
    if order is None or not scope.covers(order.account_manager_id):
        raise EntityNotFound("order", order_id, field="productOrder.id")
    k = order_cancellations.c
    waiting = (await session.execute(
        select(order_cancellations).where(k.order_id == order_id,
                                          k.state == CancellationState.INFORMATION_REQUIRED.value)
        .order_by(k.created_at.desc(), k.id.desc()).limit(1).with_for_update())).first()
    if waiting is not None:
        return await _complete(session, scope, waiting, order, reason, requested_date, now)
    before = OrderState(order.status)
    cancellation_id = new_id("cnl")
    await session.execute(order_cancellations.insert().values(
        id=cancellation_id, order_id=order_id, account_manager_id=order.account_manager_id,
        state=CancellationState.ACKNOWLEDGED.value, reason=reason, requested_cancellation_date=requested_date,
        order_status_before=before.value, created_by=scope.actor, created_at=now, updated_at=now))
    await emit(session, OrderCancellationRequested(
        cancellation_id=cancellation_id, order_id=order_id, customer_id=order.customer_id, reason=reason,
        requested_cancellation_date=requested_date, requested_at=now), subject=order_id)
    await _move(session, cancellation_id, order, CancellationState.ACKNOWLEDGED, CancellationState.ACKNOWLEDGED,
                now, order_state=ORDER_STATE_OF_CANCELLATION[CancellationState.ACKNOWLEDGED], first=True)
    missing = missing_for_cancellation(before, reason)
    if missing:
        await _wait_for_information(session, cancellation_id, order, missing, now)
    else:
        await _assess(session, scope, cancellation_id, order, CancellationState.ACKNOWLEDGED, reason, now)
    return await load(session, scope, cancellation_id)


async def _assess(session: AsyncSession, scope: Scope, cancellation_id: str, order: Any, state: CancellationState,
                  reason: str | None, now: datetime) -> None:
    """Reject the request with the reason when it is too late, else cancel the order (in_progress)."""
    before = OrderState(order.status)
    verdict = assess(before)
    if not verdict.accepted:
        await _move(session, cancellation_id, order, state, CancellationState.REJECTED, now,
                    order_state=tmf_order_state(before.value, _closed_from(order)), reason=verdict.reason)
        return
    await order_service.apply_action(session, order_id=order.id, action=OrderAction.CANCEL, actor=scope.actor,
                                     at=now, reason=reason or f"cancelProductOrder {cancellation_id}")
    await _move(session, cancellation_id, order, state, CancellationState.IN_PROGRESS,
                now, order_state=ORDER_STATE_OF_CANCELLATION[CancellationState.IN_PROGRESS])
    await settle(session, order.id, at=now)


async def _wait_for_information(session: AsyncSession, cancellation_id: str, order: Any, missing: list[Missing],
                                now: datetime) -> None:
    """The request lacks what it needs to be assessed: it waits (TMF622 task state acknowledged, so no
    cancellation_state_changed), `crm.order.cancellation_information_required` names what is missing."""
    cancellation_transition(CancellationState.ACKNOWLEDGED, CancellationState.INFORMATION_REQUIRED)
    await session.execute(update(order_cancellations).where(order_cancellations.c.id == cancellation_id).values(
        state=CancellationState.INFORMATION_REQUIRED.value, information_required=[m.as_dict() for m in missing],
        state_reason=describe(missing), updated_at=now))
    await emit(session, OrderCancellationInformationRequired(
        cancellation_id=cancellation_id, order_id=order.id, customer_id=order.customer_id, required_at=now,
        missing=[m.as_item() for m in missing]), subject=order.id)
    log.info("cancellation %s of order %s waits for %s", cancellation_id, order.id,
             ", ".join(m.field for m in missing), extra={"order_id": order.id})


async def _complete(session: AsyncSession, scope: Scope, waiting: Any, order: Any, reason: str | None,
                    requested_date: datetime | None, now: datetime) -> Any:
    """A new request of an order whose request waits for information: still lacking it, the waiting request
    as it is (nothing emitted); complete, the waiting request with it, assessed against the order as it is now."""
    reason = reason or waiting.reason
    if missing_for_cancellation(OrderState(order.status), reason):
        return await load(session, scope, waiting.id)
    await session.execute(update(order_cancellations).where(order_cancellations.c.id == waiting.id).values(
        reason=reason, information_required=None, state_reason=None, order_status_before=order.status,
        requested_cancellation_date=requested_date or waiting.requested_cancellation_date, updated_at=now))
    await _assess(session, scope, waiting.id, order, CancellationState.INFORMATION_REQUIRED, reason, now)
    return await load(session, scope, waiting.id)


def _closed_from(order: Any) -> str | None:
    closing = [h for h in order.history if h.get("to") == OrderState.CLOSED.value]
    return str(closing[-1]["from"]) if closing else None


async def settle(session: AsyncSession, order_id: str, *, at: datetime) -> bool:
    """Complete the order's accepted cancellation once none of its tickets is open; True if it did."""
    row = (await session.execute(
        select(order_cancellations).where(order_cancellations.c.order_id == order_id,
                                          order_cancellations.c.state == CancellationState.IN_PROGRESS.value)
        .with_for_update())).first()
    if row is None:
        return False
    counts = (await session.execute(
        select(func.count(), func.count().filter(tickets.c.state.not_in(sorted(TICKET_DONE_STATES))))
        .where(tickets.c.origin == "order", tickets.c.origin_id == order_id))).one()
    if not settled(OrderState(row.order_status_before), known_tickets=counts[0], open_tickets=counts[1]):
        return False
    order = (await session.execute(select(orders).where(orders.c.id == order_id))).one()
    await _move(session, row.id, order, CancellationState.IN_PROGRESS, CancellationState.DONE, at,
                order_state=ORDER_STATE_OF_CANCELLATION[CancellationState.DONE])
    return True


async def _move(session: AsyncSession, cancellation_id: str, order: Any, old: CancellationState,
                new: CancellationState, at: datetime, *, order_state: str, reason: str | None = None,
                first: bool = False) -> None:
    if not first:
        cancellation_transition(old, new)
        values: dict[str, Any] = {"state": new.value, "updated_at": at}
        if reason:
            values["state_reason"] = reason
        if new is CancellationState.DONE:
            values["effective_cancellation_date"] = at
        await session.execute(update(order_cancellations).where(order_cancellations.c.id == cancellation_id)
                              .values(**values))
    await emit(session, OrderCancellationStateChanged(
        cancellation_id=cancellation_id, order_id=order.id, customer_id=order.customer_id,
        from_state=None if first else old.value, to_state=new.value, order_state=order_state, reason=reason,
        changed_at=at), subject=order.id)
    log.info("cancellation %s of order %s: %s", cancellation_id, order.id, new.value, extra={"order_id": order.id})


async def load(session: AsyncSession, scope: Scope, cancellation_id: str) -> Any:
    row = (await session.execute(select(order_cancellations)
                                 .where(order_cancellations.c.id == cancellation_id))).first()
    if row is None or not scope.covers(row.account_manager_id):
        raise EntityNotFound("cancellation", cancellation_id, field="id")
    return row


async def latest_states(session: AsyncSession, order_ids: list[str]) -> dict[str, CancellationState]:
    """Each order's latest cancellation request's state (orders without one are absent)."""
    if not order_ids:
        return {}
    c = order_cancellations.c
    rows = (await session.execute(
        select(c.order_id, c.state).where(c.order_id.in_(order_ids)).order_by(c.created_at, c.id))).all()
    return {r.order_id: CancellationState(r.state) for r in rows}  # the latest one of each order wins
