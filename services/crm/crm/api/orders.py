"""/api/v1/orders: the order (受理单) gateway."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from backbone.auth import require
from backbone.problems import Problem
from crm.api.deps import PrincipalDep, SessionDep
from crm.models import order_items, order_tickets, orders
from crm.services import orders as order_service

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])

PRODUCTS = (
    "vpmn", "mobile_switchboard", "group_sms", "industry_ota", "m2m", "mobile_mailbox",
    "dedicated_line_data", "dedicated_line_internet",
)


class OrderItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product: Literal[PRODUCTS]  # type: ignore[valid-type]
    business_kind: Literal["opening", "change", "cancellation"] = "opening"
    attributes: dict[str, Any] = Field(default_factory=dict)


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: str = Field(min_length=1, max_length=40)
    channel: Literal["account_manager", "agent", "web_portal"] = "account_manager"
    items: list[OrderItemIn] = Field(min_length=1, max_length=50)
    note: str | None = Field(default=None, max_length=2000)
    submit: bool = Field(default=False, description="submit at once (draft → submitted)")


class OrderItemOut(BaseModel):
    id: str
    product: str
    business_kind: str
    attributes: dict[str, Any]


class TicketTrailOut(BaseModel):
    ticket_id: str
    ticket_kind: str
    state: str
    node: str | None
    updated_at: datetime


class OrderOut(BaseModel):
    id: str
    customer_id: str
    account_manager_id: str
    channel: str
    status: str
    note: str | None
    created_at: datetime
    updated_at: datetime
    items: list[OrderItemOut]
    tickets: list[TicketTrailOut] = []


async def _order_out(session: SessionDep, order_id: str) -> OrderOut:
    row = (await session.execute(select(orders).where(orders.c.id == order_id))).first()
    if row is None:
        raise Problem(404, "Not found", f"order {order_id} not found")
    items = (await session.execute(select(order_items).where(order_items.c.order_id == order_id))).all()
    tickets = (await session.execute(select(order_tickets).where(order_tickets.c.order_id == order_id))).all()
    return OrderOut(
        **row._mapping,
        items=[OrderItemOut(**i._mapping) for i in items],
        tickets=[TicketTrailOut(**t._mapping) for t in tickets],
    )


@router.post("", status_code=201, response_model=OrderOut, summary="Create an order (optionally submit it)")
async def create_order(body: OrderIn, session: SessionDep, principal: PrincipalDep, response: Response) -> OrderOut:
    require(principal, "account_manager", "admin")
    async with session.begin():
        order_id = await order_service.create_order(
            session, principal=principal, customer_id=body.customer_id, channel=body.channel,
            items=[i.model_dump() for i in body.items], submit=body.submit, note=body.note,
        )
    response.headers["Location"] = f"/api/v1/orders/{order_id}"
    return await _order_out(session, order_id)


@router.post("/{order_id}/submit", response_model=OrderOut, summary="Submit a draft order")
async def submit_order(order_id: str, session: SessionDep, principal: PrincipalDep) -> OrderOut:
    require(principal, "account_manager", "admin")
    async with session.begin():
        await order_service.submit_order(session, order_id=order_id, principal=principal)
    return await _order_out(session, order_id)


@router.get("/{order_id}", response_model=OrderOut, summary="An order with its items and ticket trail")
async def get_order(order_id: str, session: SessionDep, principal: PrincipalDep) -> OrderOut:
    out = await _order_out(session, order_id)
    await order_service.load_customer_for(session, customer_id=out.customer_id, principal=principal)
    return out
