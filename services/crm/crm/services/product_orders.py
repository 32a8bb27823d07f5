"""TMF622 PATCH and DELETE of an order (what may change in which state: `crm.domain.cancellation`).

`update_order` applies the changes a merge-patch amounts to (the router works out which attributes
really change): `description` (the order's note) until the order is closed; the items, the channel
and the customer only on a draft; `submit` takes a draft on to submitted (TMF state acknowledged)
through the order lifecycle. It emits `crm.order.updated` naming the changed TMF622 attributes. A draft
held back for information (TMF622 pending, `crm.domain.information`) is checked again after the change:
complete, it emits `crm.order.information_provided` and is submitted (→ `crm.order.submitted`, the EOMS);
still lacking something else, it emits `crm.order.information_required` with what is left.
`discard_order` deletes a draft (it never reached the EOMS) and emits `crm.order.discarded`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.events import (
    OrderDiscarded,
    OrderInformationProvided,
    OrderInformationRequired,
    OrderItem,
    OrderUpdated,
)
from backbone.ids import new_id
from backbone.outbox import emit
from crm.domain.cancellation import check_delete, check_patch
from crm.domain.errors import EntityNotFound
from crm.domain.information import missing_for_fulfilment
from crm.domain.lifecycle import OrderAction, OrderState
from crm.domain.products import Catalogue
from crm.domain.scope import Scope
from crm.models import order_cancellations, order_items, orders
from crm.services import orders as order_service
from crm.services.customers import load_customer

_UNSET: Any = object()


async def _locked(session: AsyncSession, scope: Scope, order_id: str) -> Any:
    row = (await session.execute(select(orders).where(orders.c.id == order_id).with_for_update())).first()
    if row is None or not scope.covers(row.account_manager_id):
        raise EntityNotFound("order", order_id, field="id")
    return row


async def update_order(
    session: AsyncSession, *, scope: Scope, catalogue: Catalogue, order_id: str, changed: list[str],
    note: Any = _UNSET, items: list[dict[str, Any]] | None = None, channel: str | None = None,
    customer_id: str | None = None, submit: bool = False,
) -> None:
    """Apply a TMF622 PATCH's changes (`changed`: their TMF622 names); 409 where the state forbids one."""
    row = await _locked(session, scope, order_id)
    check_patch(OrderState(row.status), set(changed))
    now = datetime.now(UTC)
    values: dict[str, Any] = {}
    if note is not _UNSET:
        values["note"] = note
    if channel is not None:
        values["channel"] = channel
    if customer_id is not None:
        customer = await load_customer(session, scope, customer_id, field="customer_id")
        values.update(customer_id=customer.id, account_manager_id=customer.account_manager_id)
    if items is not None:
        errors = order_service.item_errors(items, catalogue)
        if errors:
            raise order_service.InvalidOrderItems(errors)
        await session.execute(delete(order_items).where(order_items.c.order_id == order_id))
        await session.execute(order_items.insert(), [
            {"id": new_id("itm"), "order_id": order_id, "position": i, "product": item["product"],
             "business_kind": item["business_kind"], "attributes": item.get("attributes", {})}
            for i, item in enumerate(items)])
    attributes = [name for name in changed if name != "state"]
    if values or items is not None:
        await session.execute(update(orders).where(orders.c.id == order_id).values(
            **values, updated_at=now, version=orders.c.version + 1))
    if attributes:
        await emit(session, OrderUpdated(order_id=order_id, customer_id=values.get("customer_id", row.customer_id),
                                         status=row.status, changed=attributes, updated_at=now), subject=order_id)
    held = row.information_required is not None and row.status == OrderState.DRAFT.value
    if held and await _recheck_information(session, catalogue, order_id, row.information_required, now, scope.actor):
        return
    if submit:
        await order_service.apply_action(session, order_id=order_id, action=OrderAction.SUBMIT, actor=scope.actor,
                                         at=now)


async def _recheck_information(session: AsyncSession, catalogue: Catalogue, order_id: str,
                               before: list[dict[str, str]], at: datetime, actor: str) -> bool:
    """A held-back draft after a change: submitted if nothing is missing any more (True), else what is left
    recorded (and announced when it changed)."""
    order = (await session.execute(select(orders).where(orders.c.id == order_id))).one()
    items = [{"product": i.product, "business_kind": i.business_kind, "attributes": i.attributes}
             for i in (await session.execute(select(order_items).where(order_items.c.order_id == order_id)
                                             .order_by(order_items.c.position))).all()]
    missing = missing_for_fulfilment(items, catalogue)
    if missing:
        left = [m.as_dict() for m in missing]
        if left != before:
            await session.execute(update(orders).where(orders.c.id == order_id).values(information_required=left))
            await emit(session, OrderInformationRequired(
                order_id=order_id, customer_id=order.customer_id, required_at=at,
                missing=[m.as_item() for m in missing]), subject=order_id)
        return False
    await session.execute(update(orders).where(orders.c.id == order_id).values(information_required=None))
    await emit(session, OrderInformationProvided(order_id=order_id, customer_id=order.customer_id,
                                                 provided=[m["field"] for m in before], provided_at=at),
               subject=order_id)
    await order_service.apply_action(session, order_id=order_id, action=OrderAction.SUBMIT, actor=actor, at=at)
    return True


async def discard_order(session: AsyncSession, *, scope: Scope, order_id: str) -> None:
    """Delete a draft order (409 in any other state)."""
    row = await _locked(session, scope, order_id)
    check_delete(OrderState(row.status))
    items = [OrderItem(item_id=i.id, product=i.product, business_kind=i.business_kind,
                       business_type=f"{i.product}.{i.business_kind}", attributes=i.attributes)
             for i in (await session.execute(select(order_items).where(order_items.c.order_id == order_id)
                                             .order_by(order_items.c.position))).all()]
    await session.execute(delete(order_cancellations).where(order_cancellations.c.order_id == order_id))
    await session.execute(delete(order_items).where(order_items.c.order_id == order_id))
    await session.execute(delete(orders).where(orders.c.id == order_id))
    await emit(session, OrderDiscarded(order_id=order_id, customer_id=row.customer_id, items=items,
                                       discarded_at=datetime.now(UTC)), subject=order_id)
