"""/api/v1/orders: the order (受理单) gateway.

draft → submitted → in_progress → (opened | rejected | cancelled) → closed; an illegal step is 409.
submit / cancel / close are the account manager's; start / open / reject follow the EOMS tickets
(an admin may force them by REST).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy import select

from backbone.db import autocommit
from backbone.errors import DomainError
from backbone.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, as_utc, paginate
from backbone.shapes import ClosedModel
from backbone.vocabulary import BusinessKind, ProductId, SalesChannel, Tier
from crm import access
from crm.access import owner_filter
from crm.api.deps import ActorDep, AgentWorkReaderDep, IdempotencyDep, OrderPlacementDep, SessionDep
from crm.api.views import OrderOut, new_order_out, orders_out
from crm.domain.lifecycle import OrderAction, OrderState
from crm.models import customers, orders
from crm.services import orders as service

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])

SORTS = {"created_at": orders.c.created_at, "updated_at": orders.c.updated_at, "status": orders.c.status}


class OrderItemIn(ClosedModel):
    product: ProductId
    business_kind: BusinessKind = BusinessKind.OPENING
    attributes: dict[str, Any] = Field(default_factory=dict,
                                       description="validated against the product's JSON Schema for the kind")


class OrderIn(ClosedModel):
    customer_id: str = Field(min_length=1, max_length=40)
    channel: SalesChannel = SalesChannel.ACCOUNT_MANAGER
    items: list[OrderItemIn] = Field(min_length=1, max_length=50)
    opportunity_id: str | None = Field(default=None, max_length=40,
                                       description="optional; if given, a confirmed opportunity of the same customer")
    note: str | None = Field(default=None, max_length=2000)
    submit: bool = Field(default=False, description="submit at once (draft → submitted)")


class OrderActionIn(ClosedModel):
    reason: str | None = Field(default=None, max_length=2000, description="required to cancel or reject")


async def order_view(session: SessionDep, order_id: str) -> OrderOut:
    row = (await session.execute(select(orders).where(orders.c.id == order_id))).one()
    return (await orders_out(session, [row]))[0]


@router.get("", response_model=Page[OrderOut], summary="Orders (own customers' for an account manager)")
async def list_orders(
    session: SessionDep, principal: AgentWorkReaderDep,
    status: Annotated[list[OrderState] | None, Query(description="one or more statuses")] = None,
    customer_id: str | None = None,
    manager: Annotated[str | None, Query(description="account manager id")] = None,
    tier: Tier | None = None,
    channel: SalesChannel | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    sort: Annotated[str | None, Query(description=f"one of {', '.join(SORTS)}; - for descending")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[OrderOut]:
    scope = access.agent_work_reader(principal)
    c = orders.c
    conditions = [
        owner_filter(scope, c.account_manager_id, c.customer_id),
        c.status.in_([s.value for s in status]) if status else None,
        c.customer_id == customer_id if customer_id else None,
        c.account_manager_id == manager if manager else None,
        c.customer_id.in_(select(customers.c.id).where(customers.c.tier == tier.value)) if tier else None,
        c.channel == channel.value if channel else None,
        c.created_at >= as_utc(created_from) if created_from else None,
        c.created_at < as_utc(created_to) if created_to else None,
    ]
    stmt = select(orders).where(*[x for x in conditions if x is not None])
    rows, next_cursor = await paginate(session, stmt, id_column=c.id, sort=sort, allowed=SORTS, limit=limit,
                                       cursor=cursor)
    return Page[OrderOut](items=await orders_out(session, rows), next_cursor=next_cursor)


@router.post("", status_code=201, response_model=OrderOut, summary="Create an order (optionally submit it)")
async def create_order(call: OrderPlacementDep, body: OrderIn) -> JSONResponse:
    # One dependency carrying the authorization rule (resolved first: backbone.authz puts no second copy of it in
    # front, stamp_rules), the sessions, the context and the Idempotency-Key (issue 16).
    ctx, idem = call.context, call.idempotency
    scope = access.order_placer(call.principal)
    channel = access.order_channel(scope, body.channel.value if "channel" in body.model_fields_set else None)
    # Two round trips: the customer's read, then one statement (its own transaction) that writes the order, its
    # items and events and claims the Idempotency-Key with the reply (backbone.idempotency.commit_once).
    async with call.session() as session, autocommit(session):
        try:
            order = await service.new_order(
                session, scope=scope, catalogue=ctx.catalogue, customer_id=body.customer_id, channel=channel,
                items=[i.model_dump(mode="json") for i in body.items], submit=body.submit, note=body.note,
                opportunity_id=body.opportunity_id,
            )
        except DomainError:
            if (replay := await idem.replay(session)) is not None:  # answered already: the same answer
                return replay
            raise
        out = new_order_out(order.row, order.items, order.customer_name)
        return await idem.commit_once(session, 201, out, {"Location": f"{router.prefix}/{out.id}"},
                                      effect=service.order_write(session, order))


@router.get("/{order_id}", response_model=OrderOut, summary="An order with its items, status history and ticket trail")
async def get_order(order_id: str, session: SessionDep, principal: AgentWorkReaderDep) -> OrderOut:
    row = await service.load_order(session, access.agent_work_reader(principal), order_id)
    return (await orders_out(session, [row]))[0]



@router.post("/{order_id}/{action}", response_model=OrderOut,
             summary="Move an order: submit | cancel | close (start | open | reject: admin override); 409 if illegal")
async def act_on_order(order_id: str, action: OrderAction, session: SessionDep, principal: ActorDep,
                       idem: IdempotencyDep, body: OrderActionIn | None = None) -> JSONResponse:
    async with session.begin():
        if (replay := await idem.begin(session)) is not None:
            return replay
        scope = access.writer(principal)
        await service.load_order(session, scope, order_id)  # another manager's order: 404 before any 403
        access.check_order_action(principal, action)
        await service.act(session, actor=scope.actor, order_id=order_id, action=action,
                          reason=body.reason if body else None)
        return await idem.finish(session, 200, await order_view(session, order_id))
