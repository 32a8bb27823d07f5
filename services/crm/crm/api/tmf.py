"""TMF-shaped views: TMF622 productOrder (create and read) and TMF621 troubleTicket (read).

They are other faces of the same orders and complaints, with the same rules, RBAC and
idempotency. States map as follows.

TMF622 state  ← order status: draft/submitted → acknowledged, in_progress → inProgress,
opened → completed, rejected → rejected, cancelled → cancelled, closed → the state it closed from.
Item action add/modify/delete ↔ business kind opening/change/cancellation.

TMF621 status ← complaint status: created → acknowledged, dispatched → inProgress,
resolved/revisited → resolved, archived → closed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from backbone.errors import DomainError
from backbone.problems import Problem
from crm import access
from crm.access import owner_filter
from crm.api.deps import ContextDep, IdempotencyDep, SessionDep, WorkReaderDep, WriterDep
from crm.api.views import ComplaintOut, OrderOut, complaints_out, new_order_out, orders_out
from crm.domain.vocabulary import Channel
from crm.models import complaints, orders
from crm.services import complaints as complaint_service
from crm.services import orders as order_service

ORDER_BASE = "/tmf-api/productOrderingManagement/v4/productOrder"
TICKET_BASE = "/tmf-api/troubleTicket/v4/troubleTicket"
router = APIRouter(tags=["TMF views"])

ACTION_TO_KIND = {"add": "opening", "modify": "change", "delete": "cancellation"}
KIND_TO_ACTION = {v: k for k, v in ACTION_TO_KIND.items()}
ORDER_STATE = {"draft": "acknowledged", "submitted": "acknowledged", "in_progress": "inProgress",
               "opened": "completed", "rejected": "rejected", "cancelled": "cancelled"}
TICKET_STATUS = {"created": "acknowledged", "dispatched": "inProgress", "resolved": "resolved",
                 "revisited": "resolved", "archived": "closed"}


class Ref(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    id: str
    href: str | None = None
    name: str | None = None


class Characteristic(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=1)
    value: Any


class RelatedParty(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    id: str
    role: str
    name: str | None = None
    referred_type: str | None = Field(default=None, alias="@referredType")


class ProductRef(BaseModel):
    model_config = ConfigDict(extra="allow")
    productSpecification: Ref
    productCharacteristic: list[Characteristic] = Field(default_factory=list)


class ProductOrderItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str | None = None
    action: Literal["add", "modify", "delete"]
    product: ProductRef
    state: str | None = None


class Channel622(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str | None = None
    name: Channel


class ProductOrderIn(BaseModel):
    """TMF622 ProductOrder_Create (the subset the CRM uses; other fields are accepted and ignored)."""

    model_config = ConfigDict(extra="allow")
    description: str | None = Field(default=None, max_length=2000)
    externalId: str | None = None
    channel: list[Channel622] = Field(default_factory=list, max_length=1)
    relatedParty: list[RelatedParty] = Field(min_length=1)
    productOrderItem: list[ProductOrderItem] = Field(min_length=1, max_length=50)


class ProductOrder(BaseModel):
    id: str
    href: str
    description: str | None
    state: str
    orderDate: datetime
    lastUpdate: datetime
    channel: list[dict[str, str]]
    productOrderItem: list[dict[str, Any]]
    relatedParty: list[dict[str, str]]
    type_: str = Field(default="ProductOrder", alias="@type")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class TroubleTicket(BaseModel):
    id: str
    href: str
    name: str
    description: str
    severity: str
    ticketType: str
    status: str
    creationDate: datetime
    lastUpdate: datetime
    relatedParty: list[dict[str, str]]
    relatedEntity: list[dict[str, str]]
    statusChange: list[dict[str, Any]]
    note: list[dict[str, Any]]
    type_: str = Field(default="TroubleTicket", alias="@type")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


def _state(o: OrderOut) -> str:
    status = o.status
    if status == "closed":
        before = [h["from"] for h in o.history if h.get("to") == "closed"]
        status = before[-1] if before else "opened"
    return ORDER_STATE.get(status, "acknowledged")


def product_order(o: OrderOut) -> ProductOrder:
    state = _state(o)
    return ProductOrder(
        id=o.id, href=f"{ORDER_BASE}/{o.id}", description=o.note, state=state, orderDate=o.created_at,
        lastUpdate=o.updated_at, channel=[{"id": o.channel, "name": o.channel}],
        productOrderItem=[{
            "id": i.id, "action": KIND_TO_ACTION[i.business_kind], "state": state,
            "product": {
                "productSpecification": {"id": i.product, "href": f"/api/v1/products/{i.product}"},
                "productCharacteristic": [{"name": k, "value": v} for k, v in i.attributes.items()],
            },
        } for i in o.items],
        relatedParty=[{"id": o.customer_id, "role": "customer", "@referredType": "Organization"},
                      {"id": o.account_manager_id, "role": "accountManager", "@referredType": "Individual"}],
    )


def trouble_ticket(c: ComplaintOut) -> TroubleTicket:
    entities = []
    if c.product:
        entities.append({"id": c.product, "role": "affectedProduct", "@referredType": "ProductSpecification"})
    if c.service_ref:
        entities.append({"id": c.service_ref, "role": "affectedService", "@referredType": "Service"})
    entities += [{"id": t.ticket_id, "role": t.ticket_kind, "@referredType": "TroubleTicket"} for t in c.tickets]
    return TroubleTicket(
        id=c.id, href=f"{TICKET_BASE}/{c.id}", name=f"{c.category} complaint of {c.customer_id}",
        description=c.description, severity=c.severity, ticketType=c.category, status=TICKET_STATUS[c.status],
        creationDate=c.created_at, lastUpdate=c.updated_at,
        relatedParty=[{"id": c.customer_id, "role": "customer", "@referredType": "Organization"},
                      {"id": c.account_manager_id, "role": "accountManager", "@referredType": "Individual"}],
        relatedEntity=entities,
        statusChange=[{"status": TICKET_STATUS.get(h["to"], h["to"]), "changeDate": h["at"],
                       "changeReason": h.get("reason") or h["action"]} for h in c.history],
        note=[{"text": c.revisit_note, "author": c.account_manager_id}] if c.revisit_note else [],
    )


def _tmf_field(field: str) -> str:
    """items.0.attributes.x → productOrderItem.0.product.productCharacteristic.x (and the like)."""
    parts = field.split(".", 3)
    if parts[0] != "items" or len(parts) < 3:
        return {"customer_id": "relatedParty"}.get(field, field)
    head = f"productOrderItem.{parts[1]}"
    rest = {"product": "product.productSpecification.id", "business_kind": "action",
            "attributes": "product.productCharacteristic"}.get(parts[2], parts[2])
    return ".".join([head, rest, *parts[3:]])


def _name_tmf_fields(exc: DomainError) -> None:
    """The fields an order use case names (`items.0.product`, `customer_id`) as TMF paths, in place."""
    if exc.field:
        exc.field = _tmf_field(exc.field)
    for entry in exc.errors or []:  # an explicit list is the error's own: renamed where it is
        entry["field"] = _tmf_field(entry["field"])


@router.post(ORDER_BASE, status_code=201, response_model=ProductOrder,
             summary="TMF622: create a product order (it is submitted at once: state acknowledged)")
async def create_product_order(body: ProductOrderIn, session: SessionDep, principal: WriterDep, ctx: ContextDep,
                               idem: IdempotencyDep) -> JSONResponse:
    customers = [p.id for p in body.relatedParty if p.role.lower() == "customer"]
    if len(customers) != 1:
        raise Problem(422, "Invalid request", "relatedParty: exactly one party with role customer is needed",
                      errors=[{"field": "relatedParty", "message": "exactly one party with role customer"}])
    items = []
    for i, item in enumerate(body.productOrderItem):
        names = [c.name for c in item.product.productCharacteristic]
        if len(names) != len(set(names)):
            field = f"productOrderItem.{i}.product.productCharacteristic"
            raise Problem(422, "Invalid request", f"{field}: a characteristic is given twice",
                          errors=[{"field": field, "message": "a characteristic name is given twice"}])
        items.append({"product": item.product.productSpecification.id, "business_kind": ACTION_TO_KIND[item.action],
                      "attributes": {c.name: c.value for c in item.product.productCharacteristic}})
    channel = body.channel[0].name.value if body.channel else Channel.WEB_PORTAL.value
    async with session.begin():
        if (replay := await idem.begin(session)) is not None:
            return replay
        scope = access.writer(principal)
        try:
            created = await order_service.create_order(
                session, scope=scope, catalogue=ctx.catalogue, customer_id=customers[0], channel=channel,
                items=items, submit=True, note=body.description)
        except DomainError as exc:
            _name_tmf_fields(exc)
            raise
        out = product_order(new_order_out(created.row, created.items, created.customer_name))
        return await idem.finish(session, 201, out, {"Location": out.href})


@router.get(ORDER_BASE, response_model=list[ProductOrder], summary="TMF622: list product orders (offset/limit)")
async def list_product_orders(
    session: SessionDep, principal: WorkReaderDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JSONResponse:
    scope = access.work_reader(principal)
    stmt = select(orders)
    if (mine := owner_filter(scope, orders.c.account_manager_id)) is not None:
        stmt = stmt.where(mine)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (await session.execute(stmt.order_by(orders.c.created_at.desc(), orders.c.id.desc())
                                  .offset(offset).limit(limit))).all()
    body = [product_order(o).model_dump(mode="json") for o in await orders_out(session, rows)]
    return JSONResponse(body, headers={"X-Total-Count": str(total), "X-Result-Count": str(len(body))})


@router.get(f"{ORDER_BASE}/{{order_id}}", response_model=ProductOrder, summary="TMF622: a product order")
async def get_product_order(order_id: str, session: SessionDep, principal: WorkReaderDep) -> ProductOrder:
    row = await order_service.load_order(session, access.work_reader(principal), order_id)
    return product_order((await orders_out(session, [row]))[0])


@router.get(TICKET_BASE, response_model=list[TroubleTicket], summary="TMF621: list complaints as trouble tickets")
async def list_trouble_tickets(
    session: SessionDep, principal: WorkReaderDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JSONResponse:
    scope = access.work_reader(principal)
    stmt = select(complaints)
    if (mine := owner_filter(scope, complaints.c.account_manager_id)) is not None:
        stmt = stmt.where(mine)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (await session.execute(stmt.order_by(complaints.c.created_at.desc(), complaints.c.id.desc())
                                  .offset(offset).limit(limit))).all()
    body = [trouble_ticket(c).model_dump(mode="json") for c in await complaints_out(session, rows)]
    return JSONResponse(body, headers={"X-Total-Count": str(total), "X-Result-Count": str(len(body))})


@router.get(f"{TICKET_BASE}/{{complaint_id}}", response_model=TroubleTicket,
            summary="TMF621: a complaint as a trouble ticket")
async def get_trouble_ticket(complaint_id: str, session: SessionDep, principal: WorkReaderDep) -> TroubleTicket:
    row = await complaint_service.load_complaint(session, access.work_reader(principal), complaint_id)
    return trouble_ticket((await complaints_out(session, [row]))[0])
