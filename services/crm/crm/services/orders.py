"""Order use cases: each runs in the caller's transaction and writes its events to the outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.auth import Principal
from backbone.envelope import Envelope
from backbone.events import OrderItem, OrderSubmitted
from backbone.ids import new_id
from backbone.outbox import add_event
from backbone.problems import Problem
from crm.models import customers, order_items, orders, outbox

SOURCE = "crm"


async def load_customer_for(session: AsyncSession, *, customer_id: str, principal: Principal) -> Any:
    row = (await session.execute(select(customers).where(customers.c.id == customer_id))).first()
    # An account manager must not learn that another manager's customer exists: 404 for both.
    if row is None or (
        principal.roles == {"account_manager"} and row.account_manager_id != principal.subject
    ):
        raise Problem(404, "Not found", f"customer {customer_id} not found",
                      errors=[{"field": "customer_id", "message": "unknown customer"}])
    return row


async def create_order(
    session: AsyncSession,
    *,
    principal: Principal,
    customer_id: str,
    channel: str,
    items: list[dict[str, Any]],
    submit: bool,
    note: str | None = None,
) -> str:
    customer = await load_customer_for(session, customer_id=customer_id, principal=principal)
    order_id = new_id("ord")
    now = datetime.now(UTC)
    await session.execute(
        orders.insert().values(
            id=order_id, customer_id=customer_id, account_manager_id=customer.account_manager_id,
            channel=channel, status="draft", note=note, created_by=principal.subject, created_at=now, updated_at=now,
        )
    )
    await session.execute(
        order_items.insert(),
        [
            {"id": new_id("itm"), "order_id": order_id, "product": i["product"],
             "business_kind": i["business_kind"], "attributes": i.get("attributes", {})}
            for i in items
        ],
    )
    if submit:
        await submit_order(session, order_id=order_id, principal=principal)
    return order_id


async def submit_order(session: AsyncSession, *, order_id: str, principal: Principal) -> None:
    row = (await session.execute(select(orders).where(orders.c.id == order_id).with_for_update())).first()
    if row is None:
        raise Problem(404, "Not found", f"order {order_id} not found")
    if row.status != "draft":
        raise Problem(409, "Illegal transition", f"order {order_id} is {row.status}; only a draft can be submitted")
    customer = await load_customer_for(session, customer_id=row.customer_id, principal=principal)
    items = (await session.execute(select(order_items).where(order_items.c.order_id == order_id))).all()
    now = datetime.now(UTC)
    await session.execute(
        update(orders).where(orders.c.id == order_id)
        .values(status="submitted", updated_at=now, version=orders.c.version + 1)
    )
    payload = OrderSubmitted(
        order_id=order_id,
        customer_id=customer.id,
        customer_name=customer.name,
        customer_tier=customer.tier,
        customer_key=customer.key_customer,
        account_manager_id=customer.account_manager_id,
        channel=row.channel,
        items=[
            OrderItem(item_id=i.id, product=i.product, business_kind=i.business_kind,
                      business_type=f"{i.product}.{i.business_kind}", attributes=i.attributes)
            for i in items
        ],
        submitted_at=now,
    )
    await add_event(session, outbox, Envelope.wrap(payload, source=SOURCE, subject=order_id))
