"""Order use cases: each runs in the caller's transaction and writes its events to the outbox.

Every status change emits `crm.order.status_changed`; a submit emits `crm.order.submitted` first
(the EOMS bridge opens tickets from it) and a cancel emits `crm.order.cancelled` first. An order to submit
that lacks information fulfilment needs (`crm.domain.information`) is, when the caller holds it back for
information (the TMF622 face), kept a draft with the missing items (`crm.order.information_required`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy import Insert, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.db import run_direct
from backbone.envelope import Envelope
from backbone.events import (
    OrderCancelled,
    OrderInformationRequired,
    OrderItem,
    OrderStatusChanged,
    OrderSubmitted,
)
from backbone.ids import new_id
from backbone.outbox import emit, envelope_for, rows_insert, rows_params
from backbone.vocabulary import OpportunityState, TokenRole
from crm.domain.errors import DomainError, EntityNotFound, InvalidField
from crm.domain.history import history_entry
from crm.domain.information import check_submit, missing_for_fulfilment
from crm.domain.lifecycle import (
    OrderAction,
    OrderState,
    check_order_creation,
    transition,
)
from crm.domain.products import Catalogue, UnknownProduct, UnsupportedBusinessKind, attribute_errors
from crm.domain.scope import Scope
from crm.models import customers, opportunities, order_items, orders, outbox
from crm.services.customers import event_customer, load_customer_ref

log = logging.getLogger("crm.orders")


class InvalidOrderItems(DomainError):
    """Items that do not match the catalogue: every wrong field named (422)."""

    title = "Invalid order items"
    code = "invalid_order_items"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]), errors=errors)


def item_errors(items: list[dict[str, Any]], catalogue: Catalogue) -> list[dict[str, str]]:
    """Every problem of the items against the catalogue, named `items.<i>.<field>[.<attribute path>]`."""
    errors: list[dict[str, str]] = []
    for i, item in enumerate(items):
        try:
            found = attribute_errors(item["product"], item.get("attributes", {}), item["business_kind"], catalogue)
        except UnknownProduct as exc:
            errors.append({"field": f"items.{i}.product", "message": exc.message})
            continue
        except UnsupportedBusinessKind as exc:
            errors.append({"field": f"items.{i}.business_kind", "message": exc.message})
            continue
        base = f"items.{i}.attributes"
        errors.extend({"field": f"{base}.{e.field}" if e.field else base, "message": e.message} for e in found)
    return errors


_OPPORTUNITY = select(opportunities.c.customer_id, opportunities.c.status).where(
    opportunities.c.id == bindparam("opportunity_id"))


async def _check_opportunity(session: AsyncSession, scope: Scope, opportunity_id: str, customer_id: str) -> None:
    """An opportunity, when given, must exist, be the same customer's and be confirmed (409 otherwise). In
    `backbone.db.autocommit` (`new_order`'s): read on its connection by the driver (`run_direct`)."""
    rows = await run_direct(session, _OPPORTUNITY, {"opportunity_id": opportunity_id})
    opp = rows[0] if rows else None
    if opp is None or opp.customer_id != customer_id:
        raise InvalidField("opportunity_id", "no such opportunity for this customer")
    role = TokenRole.ADMIN if scope.admin else TokenRole.ACCOUNT_MANAGER
    check_order_creation(OpportunityState(opp.status), role)


@dataclass(frozen=True)
class NewOrder:
    """An order decided before anything is written (`new_order`): its row, its items (by position) and its
    events; `order_write` is the one statement that writes them."""

    row: dict[str, Any]
    items: list[dict[str, Any]]
    events: list[Envelope]
    customer_name: str


# The order, its items and its events in one round trip (issue 16): the order's row, with the items from one
# JSONB parameter and the outbox rows from backbone.outbox's arrays (`rows_insert`, the same rows `emit`
# writes) as data-modifying CTEs. Every value is known before the statement, so nothing comes back.
_ITEMS_IN = func.jsonb_to_recordset(bindparam("items", type_=JSONB)).table_valued(
    sa.column("id", sa.Text), sa.column("position", sa.Integer), sa.column("product", sa.Text),
    sa.column("business_kind", sa.Text), sa.column("attributes", JSONB),
).render_derived(name="item", with_types=True)
_NEW_ITEMS = order_items.insert().from_select(
    ["id", "order_id", "position", "product", "business_kind", "attributes"],
    select(_ITEMS_IN.c.id, bindparam("o_id", type_=orders.c.id.type), _ITEMS_IN.c.position, _ITEMS_IN.c.product,
           _ITEMS_IN.c.business_kind, _ITEMS_IN.c.attributes))
_INSERT_ORDER = (orders.insert().values({c: bindparam(f"o_{c.name}", type_=c.type) for c in orders.c})
                 .add_cte(_NEW_ITEMS.cte("new_items")).add_cte(rows_insert(outbox).cte("new_events")))


class _OrderKeys(NamedTuple):
    """What an order's events need of its row, known before the row is written."""

    id: str
    customer_id: str
    channel: str


async def new_order(
    session: AsyncSession,
    *,
    scope: Scope,
    catalogue: Catalogue,
    customer_id: str,
    channel: str,
    items: list[dict[str, Any]],
    submit: bool,
    note: str | None = None,
    opportunity_id: str | None = None,
    hold_for_information: bool = False,
) -> NewOrder:
    """A draft order, or a submitted one with `submit` (draft → submitted in the same statement), decided
    from its customer (404 unless in the scope) and the catalogue (422), to be written by `order_write`.

    With `hold_for_information`, an order to submit that lacks what fulfilment needs stays a draft with the
    missing items (`information_required`; TMF622 state pending) and `crm.order.information_required` is
    emitted instead: it is submitted when they are given (`product_orders.update_order`).

    A submitted order is inserted in its final state (both history entries, version 2: what the
    insert and the submit's update left before), with the same events; nobody else can see the row
    before the commit, so there is nothing to lock or re-read.
    """
    customer = await load_customer_ref(session, scope, customer_id, field="customer_id")
    errors = item_errors(items, catalogue)
    if errors:
        raise InvalidOrderItems(errors)
    if opportunity_id is not None:
        await _check_opportunity(session, scope, opportunity_id, customer_id)
    missing = missing_for_fulfilment(items, catalogue) if submit and hold_for_information else []
    order_id = new_id("ord")
    now = datetime.now(UTC)
    actor = scope.actor
    history = [history_entry(None, OrderState.DRAFT.value, "create", actor, now)]
    status, version = OrderState.DRAFT, 1
    if submit and not missing:
        status = transition(OrderState.DRAFT, OrderAction.SUBMIT)
        history.append(history_entry(OrderState.DRAFT.value, status.value, OrderAction.SUBMIT.value, actor, now))
        version = 2
    rows = [
        {"id": new_id("itm"), "position": i, "product": item["product"], "business_kind": item["business_kind"],
         "attributes": item.get("attributes", {})}
        for i, item in enumerate(items)
    ]
    events: list[BaseModel] = []
    if missing:
        events.append(OrderInformationRequired(
            order_id=order_id, customer_id=customer_id, created=True, required_at=now,
            missing=[m.as_item() for m in missing]))
        log.info("order %s held back: %s", order_id, ", ".join(m.field for m in missing), extra={"order_id": order_id})
    elif submit:
        events = await _transition_events(session, _OrderKeys(order_id, customer_id, channel), OrderState.DRAFT,
                                          status, OrderAction.SUBMIT, now, known=(customer, rows))
        _log_transition(order_id, OrderState.DRAFT, status, OrderAction.SUBMIT, actor)
    row = {
        "id": order_id, "customer_id": customer_id, "account_manager_id": customer.account_manager_id,
        "channel": channel, "status": status.value, "status_reason": None, "opportunity_id": opportunity_id,
        "note": note, "created_by": actor, "history": history, "created_at": now, "updated_at": now,
        "version": version, "information_required": [m.as_dict() for m in missing] or None,
        "information_requested_at": now if missing else None,
    }
    return NewOrder(row=row, items=rows, events=[envelope_for(session, e, subject=order_id) for e in events],
                    customer_name=customer.name)


def order_write(session: AsyncSession, order: NewOrder) -> tuple[Insert, dict[str, Any]]:
    """The one statement that writes `order` (its row, items and events) and its parameters, to run in the
    session (`backbone.idempotency`'s `commit_once` runs it with the key's claim and reply); the relay is woken
    once the session's transaction commits."""
    return _INSERT_ORDER, {**{f"o_{k}": v for k, v in order.row.items()}, "items": order.items,
                           **rows_params(session, order.events)}


async def load_order(session: AsyncSession, scope: Scope, order_id: str) -> Any:
    """The order row if it is within the scope; 404 otherwise."""
    row = (await session.execute(select(orders).where(orders.c.id == order_id))).first()
    agent = None  # an agent's scope reaches the orders of the customers assigned to them
    if row is not None and scope.agent is not None:
        agent = (await session.execute(
            select(customers.c.agent_id).where(customers.c.id == row.customer_id))).scalar_one_or_none()
    if row is None or not scope.covers(row.account_manager_id, agent):
        raise EntityNotFound("order", order_id)
    return row


async def act(session: AsyncSession, *, actor: str, order_id: str, action: OrderAction,
              reason: str | None = None) -> None:
    """A REST step on an order the caller may change (the router checked the scope and the action)."""
    if action in (OrderAction.CANCEL, OrderAction.REJECT) and not reason:
        raise InvalidField("reason", "is required")
    await apply_action(session, order_id=order_id, action=action, actor=actor, at=datetime.now(UTC), reason=reason)


async def apply_action(session: AsyncSession, *, order_id: str, action: OrderAction, actor: str, at: datetime,
                       reason: str | None = None, ticket_id: str | None = None) -> OrderState:
    """Move the order (row-locked) and write its events; IllegalTransition (409) if it cannot."""
    row = (await session.execute(select(orders).where(orders.c.id == order_id).with_for_update())).first()
    if row is None:
        raise EntityNotFound("order", order_id)
    old = OrderState(row.status)
    new = transition(old, action)
    if action is OrderAction.SUBMIT:
        check_submit(row.information_required)
    entry = history_entry(old.value, new.value, action.value, actor, at, reason, ticket_id=ticket_id)
    await session.execute(update(orders).where(orders.c.id == order_id).values(
        status=new.value, status_reason=reason if reason else row.status_reason, updated_at=at,
        history=orders.c.history.op("||")([entry]), version=orders.c.version + 1,
    ))
    await _emit_transition(session, row, old, new, action, actor, at, reason=reason)
    return new


async def _emit_transition(session: AsyncSession, row: Any, old: OrderState, new: OrderState, action: OrderAction,
                           actor: str, at: datetime, *, reason: str | None = None,
                           known: tuple[Any, Sequence[Mapping[str, Any]]] | None = None) -> None:
    """The events of one status change, written to the outbox in one statement.

    `known`: the customer row and item rows when the caller has them already (saves two reads).
    """
    await emit(session, *await _transition_events(session, row, old, new, action, at, reason=reason, known=known),
               subject=row.id)
    _log_transition(row.id, old, new, action, actor)


def _log_transition(order_id: str, old: OrderState, new: OrderState, action: OrderAction, actor: str) -> None:
    log.info("order %s: %s -> %s (%s by %s)", order_id, old.value, new.value, action.value, actor,
             extra={"order_id": order_id})


async def _transition_events(session: AsyncSession, row: Any, old: OrderState, new: OrderState, action: OrderAction,
                             at: datetime, *, reason: str | None = None,
                             known: tuple[Any, Sequence[Mapping[str, Any]]] | None = None) -> list[BaseModel]:
    """The events of one status change, in their order (`row`: the order's id, customer_id, channel)."""
    order_id = row.id
    events: list[BaseModel] = []
    if action is OrderAction.SUBMIT:
        events.append(await _submitted(session, row, at, known))
    elif action is OrderAction.CANCEL:
        events.append(OrderCancelled(order_id=order_id, customer_id=row.customer_id, reason=reason or "",
                                     cancelled_at=at))
    events.append(OrderStatusChanged(order_id=order_id, customer_id=row.customer_id, from_status=old.value,
                                     to_status=new.value, reason=reason, changed_at=at))
    return events


async def _submitted(session: AsyncSession, row: Any, at: datetime,
                     known: tuple[Any, Sequence[Mapping[str, Any]]] | None) -> OrderSubmitted:
    if known is not None:
        customer, item_rows = known
    else:
        customer = (await session.execute(select(customers).where(customers.c.id == row.customer_id))).one()
        item_rows = [dict(i._mapping) for i in (await session.execute(
            select(order_items).where(order_items.c.order_id == row.id).order_by(order_items.c.position))).all()]
    return OrderSubmitted(
        order_id=row.id,
        **event_customer(customer),
        channel=row.channel,
        items=[OrderItem(item_id=i["id"], product=i["product"], business_kind=i["business_kind"],
                         business_type=f"{i['product']}.{i['business_kind']}", attributes=i["attributes"])
               for i in item_rows],
        submitted_at=at,
    )
