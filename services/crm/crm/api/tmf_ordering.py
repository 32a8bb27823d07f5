"""TMF622 Product Ordering v4.0.0 on the CRM: productOrder (POST, GET list, GET, PATCH, DELETE) and the
cancelProductOrder task resource (POST, GET list, GET). The hub is `backbone.hub` (docs/tmf.md).

A product order is another face of the CRM's order (受理单), with the same rules, RBAC and idempotency;
the TMF630 conventions (TMF `Error` bodies, absent fields omitted, `fields=`, `offset`/`limit` with
X-Total-Count / X-Result-Count, filters) come from `backbone.tmf`. States: `crm.domain.cancellation`
(`tmf_order_state`): draft/submitted → acknowledged, in_progress → inProgress, opened → completed,
rejected → rejected, cancelled → cancelled, closed → the state it closed from; while a cancellation request
is acknowledged (or waits for information) / in progress, assessingCancellation / pendingCancellation; a draft
held back for information fulfilment needs (`crm.domain.information`), pending. Item action add / modify /
delete ↔ business kind opening / change / cancellation.

Information required: a POSTed order lacking what fulfilment needs is `pending` (extension member
`informationRequired`: `fieldPath` and `reason` of each missing field) until a PATCH gives it; a cancellation
request lacking what its assessment needs stays `acknowledged` (`informationRequired`, `stateReason`) until
a new POST for the same order brings it (the specification has no PATCH on cancelProductOrder): docs/tmf.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import String, and_, case, func, literal, select

from backbone.db import autocommit
from backbone.errors import DomainError
from backbone.tmf import (
    TMF_JSON,
    DateRange,
    FieldsQuery,
    PagingDep,
    StatesQuery,
    TmfResource,
    check_values,
    date_range,
    dump,
    list_response,
    resource_response,
    split_values,
    tmf_error,
)
from backbone.vocabulary import SalesChannel
from crm import access
from crm.access import owner_filter
from crm.api.deps import ContextDep, IdempotencyDep, SessionDep, WorkReaderDep, WriterDep
from crm.api.views import OrderOut, new_order_out, orders_out
from crm.domain.cancellation import (
    ORDER_STATE_OF_CANCELLATION,
    ORDER_TMF_STATE,
    PENDING,
    TASK_STATE,
    CancellationState,
    tmf_order_state,
)
from crm.domain.errors import EntityNotFound
from crm.domain.information import tmf_field
from crm.models import order_cancellations, orders
from crm.services import cancellations as cancellation_service
from crm.services import orders as order_service
from crm.services import product_orders

API_BASE = "/tmf-api/productOrderingManagement/v4"
ORDER_BASE = f"{API_BASE}/productOrder"
CANCEL_BASE = f"{API_BASE}/cancelProductOrder"
router = APIRouter(tags=["TMF622 product ordering"])

ACTION_TO_KIND = {"add": "opening", "modify": "change", "delete": "cancellation"}
KIND_TO_ACTION = {v: k for k, v in ACTION_TO_KIND.items()}
ORDER_STATES = ("acknowledged", "rejected", "pending", "held", "inProgress", "cancelled", "completed", "failed",
                "partial", "assessingCancellation", "pendingCancellation")
TASK_STATES = ("acknowledged", "terminatedWithError", "inProgress", "done")
#: what the specification's schemas require: `fields=` never drops it
ORDER_REQUIRED = ("productOrderItem",)
CANCEL_REQUIRED = ("productOrder",)


# ---------------------------------------------------------------------------------------------- bodies in

class _Open(BaseModel):
    """TMF resources accept members the CRM does not use (@baseType, @schemaLocation, ...): they are ignored."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Ref(_Open):
    id: str = Field(min_length=1, max_length=200)
    href: str | None = None
    name: str | None = None


class Characteristic(_Open):
    name: str = Field(min_length=1, max_length=200)
    value: Any


class RelatedParty(_Open):
    id: str = Field(min_length=1, max_length=200)
    role: str | None = Field(default=None, max_length=100)
    name: str | None = None
    referred_type: str | None = Field(default=None, alias="@referredType")


class ProductRef(_Open):
    productSpecification: Ref
    productCharacteristic: list[Characteristic] = Field(default_factory=list, max_length=200)


class ProductOrderItemIn(_Open):
    id: str | None = Field(default=None, max_length=100)
    action: Literal["add", "modify", "delete"]
    product: ProductRef


class RelatedChannel(_Open):
    id: str | None = Field(default=None, max_length=100)
    name: SalesChannel


class ProductOrderCreate(_Open):
    """TMF622 ProductOrder_Create (what the CRM uses: description, channel, the customer among relatedParty,
    productOrderItem; other members are accepted and ignored)."""

    description: str | None = Field(default=None, max_length=2000)
    channel: list[RelatedChannel] = Field(default_factory=list, max_length=1)
    relatedParty: list[RelatedParty] = Field(min_length=1, max_length=20)
    productOrderItem: list[ProductOrderItemIn] = Field(min_length=1, max_length=50)


class ProductOrderUpdate(_Open):
    """TMF622 ProductOrder_Update as a JSON merge patch: a member given with the value it has is no change;
    what may change in which state: docs/tmf.md (409 otherwise)."""

    description: str | None = Field(default=None, max_length=2000)
    channel: list[RelatedChannel] | None = Field(default=None, max_length=1)
    relatedParty: list[RelatedParty] | None = Field(default=None, min_length=1, max_length=20)
    productOrderItem: list[ProductOrderItemIn] | None = Field(default=None, min_length=1, max_length=50)
    state: str | None = Field(default=None, max_length=40)


class CancelProductOrderCreate(_Open):
    """TMF622 CancelProductOrder_Create."""

    productOrder: Ref
    cancellationReason: str | None = Field(default=None, max_length=2000)
    requestedCancellationDate: datetime | None = None


# ---------------------------------------------------------------------------------------------- bodies out

class ProductOrder(TmfResource):
    """TMF622 ProductOrder (absent members omitted; `lastUpdate` is an extension)."""

    description: str | None = None
    state: str
    orderDate: datetime
    lastUpdate: datetime
    completionDate: datetime | None = None
    cancellationDate: datetime | None = None
    cancellationReason: str | None = None
    channel: list[dict[str, str]]
    productOrderItem: list[dict[str, Any]]
    relatedParty: list[dict[str, str]]
    informationRequired: list[dict[str, str]] | None = None
    type_: str = Field(default="ProductOrder", alias="@type")


class CancelProductOrder(TmfResource):
    """TMF622 CancelProductOrder (`stateReason`, why a request was rejected or waits, `informationRequired`, what
    it waits for, and `creationDate` are extensions)."""

    state: str
    productOrder: dict[str, str]
    cancellationReason: str | None = None
    requestedCancellationDate: datetime | None = None
    effectiveCancellationDate: datetime | None = None
    stateReason: str | None = None
    informationRequired: list[dict[str, str]] | None = None
    creationDate: datetime
    type_: str = Field(default="CancelProductOrder", alias="@type")


def _closed_from(o: OrderOut) -> str | None:
    before = [h["from"] for h in o.history if h.get("to") == "closed"]
    return str(before[-1]) if before else None


def _reached(o: OrderOut, status: str) -> datetime | None:
    at = [h["at"] for h in o.history if h.get("to") == status]
    return datetime.fromisoformat(at[-1]) if at else None


def _information(missing: list[dict[str, str]] | None) -> list[dict[str, str]] | None:
    """The missing fields as the extension member `informationRequired` shows them (None: nothing missing)."""
    return [{"fieldPath": tmf_field(m["field"]), "reason": m["reason"]} for m in missing] if missing else None


def product_order(o: OrderOut, cancellation: CancellationState | None = None,
                  information: list[dict[str, str]] | None = None) -> ProductOrder:
    held = bool(information) and o.status == "draft"
    state = tmf_order_state(o.status, _closed_from(o), cancellation, information_required=held)
    cancelled = o.status == "cancelled" or _closed_from(o) == "cancelled"
    return ProductOrder(
        id=o.id, href=f"{ORDER_BASE}/{o.id}", description=o.note, state=state, orderDate=o.created_at,
        lastUpdate=o.updated_at, completionDate=_reached(o, "opened"),
        cancellationDate=_reached(o, "cancelled") if cancelled else None,
        cancellationReason=o.status_reason if cancelled else None,
        channel=[{"id": o.channel, "name": o.channel, "@referredType": "SalesChannel"}],
        productOrderItem=[{
            "id": i.id, "action": KIND_TO_ACTION[i.business_kind], "state": state,
            "product": {
                "productSpecification": {"id": i.product, "href": f"/api/v1/products/{i.product}",
                                         "@referredType": "ProductSpecification"},
                "productCharacteristic": [{"name": k, "value": v} for k, v in i.attributes.items()],
            },
            "@type": "ProductOrderItem",
        } for i in o.items],
        relatedParty=[{"id": o.customer_id, "role": "customer", "@referredType": "Organization"},
                      {"id": o.account_manager_id, "role": "accountManager", "@referredType": "Individual"}],
        informationRequired=_information(information) if held else None,
    )


def cancel_product_order(row: Any) -> CancelProductOrder:
    return CancelProductOrder(
        id=row.id, href=f"{CANCEL_BASE}/{row.id}", state=TASK_STATE[CancellationState(row.state)],
        productOrder={"id": row.order_id, "href": f"{ORDER_BASE}/{row.order_id}", "@referredType": "ProductOrder"},
        cancellationReason=row.reason, requestedCancellationDate=row.requested_cancellation_date,
        effectiveCancellationDate=row.effective_cancellation_date, stateReason=row.state_reason,
        informationRequired=_information(row.information_required), creationDate=row.created_at,
    )


async def _orders_out(session: SessionDep, rows: Sequence[Any]) -> list[ProductOrder]:
    states = await cancellation_service.latest_states(session, [r.id for r in rows])
    information = {r.id: r.information_required for r in rows}
    return [product_order(o, states.get(o.id), information.get(o.id)) for o in await orders_out(session, rows)]


# ---------------------------------------------------------------------------------------------- field names

def _name_tmf_fields(exc: DomainError) -> None:
    """The fields an order use case names (`items.0.product`, `customer_id`) as TMF paths, in place."""
    if exc.field:
        exc.field = tmf_field(exc.field)
    for entry in exc.errors or []:  # an explicit list is the error's own: renamed where it is
        entry["field"] = tmf_field(entry["field"])


def _customer_of(parties: list[RelatedParty]) -> str:
    customers = [p.id for p in parties if (p.role or "").lower() == "customer"]
    if len(customers) != 1:
        raise tmf_error("relatedParty", "exactly one party with role customer is needed")
    return customers[0]


def _items_of(items: list[ProductOrderItemIn]) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(items):
        names = [c.name for c in item.product.productCharacteristic]
        if len(names) != len(set(names)):
            raise tmf_error(f"productOrderItem.{i}.product.productCharacteristic", "a characteristic is given twice")
        out.append({"product": item.product.productSpecification.id, "business_kind": ACTION_TO_KIND[item.action],
                    "attributes": {c.name: c.value for c in item.product.productCharacteristic}})
    return out


def _tmf_json(response: JSONResponse) -> JSONResponse:
    response.headers["content-type"] = TMF_JSON
    return response


# ---------------------------------------------------------------------------------------------- productOrder

def _tmf_state_sql() -> Any:
    """The TMF622 state of each order as SQL (the filter's twin of `tmf_order_state`)."""
    c = orders.c
    effective = case((c.status == "closed",
                      func.coalesce(c.history.op("->")(-1).op("->>")("from"), "opened")), else_=c.status)
    held = and_(c.status == "draft", func.jsonb_typeof(c.information_required) == "array")
    native = case((held, literal(PENDING)),
                  *[(effective == status, literal(tmf)) for status, tmf in ORDER_TMF_STATE.items()],
                  else_=literal("acknowledged"))
    k = order_cancellations.c
    latest = (select(k.state).where(k.order_id == c.id).order_by(k.created_at.desc(), k.id.desc()).limit(1)
              .scalar_subquery())
    return case(*[(latest == s.value, literal(tmf)) for s, tmf in ORDER_STATE_OF_CANCELLATION.items()
                  if s is not CancellationState.DONE], else_=native).cast(String)


@router.post(ORDER_BASE, status_code=201, response_model=ProductOrder, response_model_exclude_none=True,
             summary="TMF622: create a product order (submitted at once: state acknowledged; pending, with "
                     "informationRequired, while it lacks what fulfilment needs)")
async def create_product_order(body: ProductOrderCreate, session: SessionDep, principal: WriterDep,
                               ctx: ContextDep, idem: IdempotencyDep) -> JSONResponse:
    customer_id = _customer_of(body.relatedParty)
    items = _items_of(body.productOrderItem)
    channel = body.channel[0].name.value if body.channel else SalesChannel.WEB_PORTAL.value
    async with autocommit(session):  # as POST /api/v1/orders: two round trips
        try:
            order = await order_service.new_order(
                session, scope=access.writer(principal), catalogue=ctx.catalogue, customer_id=customer_id,
                channel=channel, items=items, submit=True, note=body.description, hold_for_information=True)
        except DomainError as exc:
            if (replay := await idem.replay(session)) is not None:
                return _tmf_json(replay)
            _name_tmf_fields(exc)
            raise
        out = dump(product_order(new_order_out(order.row, order.items, order.customer_name),
                                 information=order.row["information_required"]))
        return _tmf_json(await idem.commit_once(session, 201, out, {"Location": out["href"]},
                                                effect=order_service.order_write(session, order)))


OrderDates = Annotated[DateRange, date_range("orderDate")]
UpdateDates = Annotated[DateRange, date_range("lastUpdate")]


@router.get(ORDER_BASE, response_model=list[ProductOrder], response_model_exclude_none=True,
            summary="TMF622: product orders (offset/limit, fields=, state=, orderDate.gte= ...)")
async def list_product_orders(session: SessionDep, principal: WorkReaderDep, paging: PagingDep,
                              order_dates: OrderDates, update_dates: UpdateDates,
                              fields: FieldsQuery = None, state: StatesQuery = None) -> JSONResponse:
    scope = access.work_reader(principal)
    states = check_values("state", split_values(state), ORDER_STATES)
    conditions = [*order_dates.conditions(orders.c.created_at), *update_dates.conditions(orders.c.updated_at)]
    if (mine := owner_filter(scope, orders.c.account_manager_id)) is not None:
        conditions.append(mine)
    if states:
        conditions.append(_tmf_state_sql().in_(states))
    stmt = select(orders).where(*conditions)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (await session.execute(stmt.order_by(orders.c.created_at.desc(), orders.c.id.desc())
                                  .offset(paging.offset).limit(paging.limit))).all()
    return list_response(await _orders_out(session, rows), total=total, fields=fields, keep=ORDER_REQUIRED)


@router.get(f"{ORDER_BASE}/{{id}}", response_model=ProductOrder, response_model_exclude_none=True,
            summary="TMF622: a product order")
async def get_product_order(id: str, session: SessionDep, principal: WorkReaderDep,
                            fields: FieldsQuery = None) -> JSONResponse:
    row = await _load(session, access.work_reader(principal), id)
    return resource_response((await _orders_out(session, [row]))[0], fields=fields, keep=ORDER_REQUIRED)


async def _load(session: SessionDep, scope: Any, order_id: str) -> Any:
    try:
        return await order_service.load_order(session, scope, order_id)
    except EntityNotFound as exc:
        _name_tmf_fields(exc)
        raise


def _changes(patch: ProductOrderUpdate, current: ProductOrder, out: OrderOut) -> dict[str, Any]:
    """The TMF622 attributes the patch really changes, with their new values (native)."""
    given = patch.model_fields_set | set(patch.model_extra or {})
    changes: dict[str, Any] = {}
    for name in sorted(given):
        if name == "description":
            if patch.description != out.note:
                changes["description"] = patch.description
        elif name == "productOrderItem":
            if patch.productOrderItem is None:
                raise tmf_error("productOrderItem", "an order has at least one item: it cannot be removed")
            items = _items_of(patch.productOrderItem)
            stored = [{"product": i.product, "business_kind": i.business_kind, "attributes": i.attributes}
                      for i in out.items]
            if items != stored:
                changes["productOrderItem"] = items
        elif name == "channel":
            if not patch.channel:
                raise tmf_error("channel", "an order has one channel: it cannot be removed")
            if patch.channel[0].name.value != out.channel:
                changes["channel"] = patch.channel[0].name.value
        elif name == "relatedParty":
            if patch.relatedParty is None:
                raise tmf_error("relatedParty", "an order has a customer: it cannot be removed")
            customer = _customer_of(patch.relatedParty)
            if customer != out.customer_id:
                changes["relatedParty"] = customer
        elif name == "state":
            if patch.state != current.state:
                changes["state"] = patch.state
        else:
            value = (patch.model_extra or {}).get(name)
            if value != dump(current).get(name):
                changes[name] = value
    return changes


@router.patch(f"{ORDER_BASE}/{{id}}", response_model=ProductOrder, response_model_exclude_none=True,
              summary="TMF622: change a product order (merge patch; 409 where its state forbids the change)",
              openapi_extra={"requestBody": {"content": {"application/merge-patch+json": {
                  "schema": {"$ref": "#/components/schemas/ProductOrderUpdate"}}}}})
async def patch_product_order(id: str, session: SessionDep, principal: WriterDep,
                              ctx: ContextDep, body: Annotated[ProductOrderUpdate, Body()]) -> JSONResponse:
    scope = access.writer(principal)
    async with session.begin():
        row = await _load(session, scope, id)
        out = (await orders_out(session, [row]))[0]
        states = await cancellation_service.latest_states(session, [row.id])
        changes = _changes(body, product_order(out, states.get(row.id)), out)
        if changes:
            try:
                await product_orders.update_order(
                    session, scope=scope, catalogue=ctx.catalogue, order_id=id, changed=sorted(changes),
                    **({"note": changes["description"]} if "description" in changes else {}),
                    items=changes.get("productOrderItem"), channel=changes.get("channel"),
                    customer_id=changes.get("relatedParty"))
            except DomainError as exc:
                _name_tmf_fields(exc)
                raise
        row = await _load(session, scope, id)
        return resource_response((await _orders_out(session, [row]))[0])


@router.delete(f"{ORDER_BASE}/{{id}}", status_code=204, response_class=Response,
               summary="TMF622: delete a product order (a draft only; 409 otherwise: cancel it instead)")
async def delete_product_order(id: str, session: SessionDep, principal: WriterDep) -> Response:
    async with session.begin():
        try:
            await product_orders.discard_order(session, scope=access.writer(principal), order_id=id)
        except DomainError as exc:
            _name_tmf_fields(exc)
            raise
    # No body; the media type all the specification's operations declare (`produces`) all the same.
    return Response(status_code=204, headers={"content-type": TMF_JSON})


# ---------------------------------------------------------------------------------------------- cancelProductOrder

@router.post(CANCEL_BASE, status_code=201, response_model=CancelProductOrder, response_model_exclude_none=True,
             summary="TMF622: ask to cancel a product order (accepted: inProgress then done; too late: "
                     "terminatedWithError with the reason; lacking information: acknowledged with "
                     "informationRequired, and a new POST for the order completes it)")
async def create_cancel_product_order(body: CancelProductOrderCreate, session: SessionDep, principal: WriterDep,
                                      idem: IdempotencyDep) -> JSONResponse:
    async with session.begin():
        if (replay := await idem.begin(session)) is not None:
            return _tmf_json(replay)
        try:
            row = await cancellation_service.request_cancellation(
                session, scope=access.writer(principal), order_id=body.productOrder.id,
                reason=body.cancellationReason, requested_date=body.requestedCancellationDate)
        except EntityNotFound as exc:
            # The specification answers a reference that resolves to nothing with 400 (no 404 on a POST).
            raise tmf_error("productOrder.id", "no such product order") from exc
        out = dump(cancel_product_order(row))
        return _tmf_json(await idem.finish(session, 201, out, {"Location": out["href"]}))


@router.get(CANCEL_BASE, response_model=list[CancelProductOrder], response_model_exclude_none=True,
            summary="TMF622: cancellation requests (offset/limit, fields=, state=)")
async def list_cancel_product_orders(session: SessionDep, principal: WorkReaderDep, paging: PagingDep,
                                     fields: FieldsQuery = None, state: StatesQuery = None) -> JSONResponse:
    scope = access.work_reader(principal)
    k = order_cancellations.c
    wanted = check_values("state", split_values(state), TASK_STATES)
    native = [s.value for s, tmf in TASK_STATE.items() if tmf in wanted]
    conditions: list[Any] = [k.state.in_(native)] if wanted else []
    if (mine := owner_filter(scope, k.account_manager_id)) is not None:
        conditions.append(mine)
    stmt = select(order_cancellations).where(*conditions)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (await session.execute(stmt.order_by(k.created_at.desc(), k.id.desc())
                                  .offset(paging.offset).limit(paging.limit))).all()
    return list_response([cancel_product_order(r) for r in rows], total=total, fields=fields, keep=CANCEL_REQUIRED)


@router.get(f"{CANCEL_BASE}/{{id}}", response_model=CancelProductOrder, response_model_exclude_none=True,
            summary="TMF622: a cancellation request")
async def get_cancel_product_order(id: str, session: SessionDep, principal: WorkReaderDep,
                                   fields: FieldsQuery = None) -> JSONResponse:
    row = await cancellation_service.load(session, access.work_reader(principal), id)
    return resource_response(cancel_product_order(row), fields=fields, keep=CANCEL_REQUIRED)

