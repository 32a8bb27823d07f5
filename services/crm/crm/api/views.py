"""Output models of the REST API and how they are built from rows (shared by the routers)."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.masking import mask_email, mask_phone
from crm.domain.tiering import FactorContribution
from crm.models import customers, order_items, sla_alerts, tickets

#: how urgent an SLA alert is (the workbench puts the highest first)
RISK_RANK = {"escalated": 3, "breached": 2, "warning": 1}


class Tiering(BaseModel):
    """Why a customer has its tier: each factor's contribution (points = weight × normalised value)."""

    tier: str
    score: float
    key: bool = Field(description="key industry: tier A whatever the score")
    forced: bool
    score_tier: str
    contributions: list[FactorContribution]
    explanation: str
    method: str = Field(default="thresholds", description="thresholds, or rank among all customers")
    rank: int | None = Field(default=None, description="rank grading: the score's rank when graded, 1 = best")
    ranked_of: int | None = Field(default=None, description="rank grading: among how many customers")
    config_version: int


class FactorsOut(BaseModel):
    employees: int
    handset_share: float
    informatization_level: int
    unified_payment: str
    influence: int


class CustomerOut(BaseModel):
    id: str
    name: str
    uscc: str
    industry: str
    region: str
    account_manager_id: str
    tier: str
    key_customer: bool
    factors: FactorsOut | None
    tiering: Tiering | None
    created_at: datetime
    updated_at: datetime


def customer_out(row: Any) -> CustomerOut:
    result = row.tier_result or None
    return CustomerOut(
        id=row.id, name=row.name, uscc=row.uscc, industry=row.industry, region=row.region,
        account_manager_id=row.account_manager_id, tier=row.tier, key_customer=row.key_customer,
        factors=FactorsOut.model_validate(row.tier_factors) if row.tier_factors else None,
        tiering=Tiering(**result, config_version=row.tier_config_version) if result else None,
        created_at=row.created_at, updated_at=row.updated_at,
    )


class KeyPersonOut(BaseModel):
    id: str
    customer_id: str
    kind: str
    name: str
    title: str | None
    phone: str | None
    email: str | None
    masked: bool = Field(description="phone and e-mail are masked (list views; anyone but the owner or an admin)")
    created_at: datetime
    updated_at: datetime


def key_person_out(row: Any, *, full: bool = False) -> KeyPersonOut:
    phone, email = row.phone, row.email
    if not full:
        phone = mask_phone(phone) if phone else None
        email = mask_email(email) if email else None
    return KeyPersonOut(id=row.id, customer_id=row.customer_id, kind=row.kind, name=row.name, title=row.title,
                        phone=phone, email=email, masked=not full, created_at=row.created_at,
                        updated_at=row.updated_at)


class OpportunityOut(BaseModel):
    id: str
    customer_id: str
    account_manager_id: str
    title: str
    channel: str
    products: list[str]
    expected_monthly_revenue: float | None
    note: str | None
    status: str
    status_reason: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime


def opportunity_out(row: Any) -> OpportunityOut:
    return OpportunityOut(**row._mapping)


class SlaOut(BaseModel):
    level: str = Field(description="warning | breached | escalated (the latest alert of the ticket)")
    escalation_level: int | None
    node: str
    role: str
    deadline: datetime


class TicketOut(BaseModel):
    ticket_id: str
    ticket_kind: str
    business_type: str
    state: str
    node: str | None
    reason: str | None
    updated_at: datetime
    sla: SlaOut | None = None
    trail: list[dict[str, Any]] = Field(description="every ticket event the CRM received, oldest first")


class OrderItemOut(BaseModel):
    id: str
    product: str
    business_kind: str
    attributes: dict[str, Any]


class OrderOut(BaseModel):
    id: str
    customer_id: str
    customer_name: str
    account_manager_id: str
    channel: str
    status: str
    status_reason: str | None
    opportunity_id: str | None
    note: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    items: list[OrderItemOut]
    tickets: list[TicketOut] = []
    history: list[dict[str, Any]] = Field(default_factory=list, description="status changes, oldest first")


class ComplaintOut(BaseModel):
    id: str
    customer_id: str
    customer_name: str
    account_manager_id: str
    category: str
    severity: str
    product: str | None
    service_ref: str | None
    description: str
    status: str
    satisfaction: int | None
    revisit_note: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    tickets: list[TicketOut] = []
    history: list[dict[str, Any]] = Field(default_factory=list)



async def tickets_of(session: AsyncSession, origin: str, ids: Sequence[str]) -> dict[str, list[TicketOut]]:
    """The ticket trails (with their latest SLA alert) of many orders or complaints at once."""
    out: dict[str, list[TicketOut]] = defaultdict(list)
    if not ids:
        return out
    rows = (await session.execute(
        select(tickets, sla_alerts.c.level, sla_alerts.c.escalation_level, sla_alerts.c.node.label("sla_node"),
               sla_alerts.c.role, sla_alerts.c.deadline)
        .outerjoin(sla_alerts, sla_alerts.c.ticket_id == tickets.c.ticket_id)
        .where(tickets.c.origin == origin, tickets.c.origin_id.in_(list(ids)))
        .order_by(tickets.c.updated_at)
    )).all()
    for r in rows:
        sla = None
        if r.level in RISK_RANK:
            sla = SlaOut(level=r.level, escalation_level=r.escalation_level, node=r.sla_node, role=r.role,
                         deadline=r.deadline)
        out[r.origin_id].append(TicketOut(
            ticket_id=r.ticket_id, ticket_kind=r.ticket_kind, business_type=r.business_type, state=r.state,
            node=r.node, reason=r.reason, updated_at=r.updated_at, sla=sla, trail=r.trail))
    return out


#: the OrderOut fields an order row gives as they are
_ORDER_FIELDS = tuple(k for k in OrderOut.model_fields if k not in ("items", "tickets", "customer_name"))


def order_out(row: Any, items: Sequence[Any], trail: list[TicketOut], customer_name: str) -> OrderOut:
    """One order from its row, its item rows (by position), its ticket trails and its customer's name."""
    m = row._mapping
    return OrderOut(**{k: m[k] for k in _ORDER_FIELDS}, customer_name=customer_name, tickets=trail, items=[
        OrderItemOut(id=i.id, product=i.product, business_kind=i.business_kind, attributes=i.attributes)
        for i in items])


def _jsonb_key(key: str) -> tuple[int, bytes]:
    encoded = key.encode()
    return len(encoded), encoded


@functools.lru_cache(maxsize=512)
def _jsonb_key_order(keys: tuple[str, ...]) -> tuple[str, ...]:
    """`keys` in jsonb's order, once per set of keys in their order (an order's history entries and its items'
    attributes repeat theirs: ~12 µs per order, issue 16)."""
    return tuple(sorted(keys, key=_jsonb_key))


def as_jsonb(value: Any) -> Any:
    """A JSON value as PostgreSQL's jsonb gives it back: each object's keys shorter first, then by their
    UTF-8 bytes. A reply made from the values a statement writes shows them as a read of the row would
    (an item's attributes are its TMF characteristics, a list: their order is the API's)."""
    if isinstance(value, dict):
        return {k: as_jsonb(value[k]) for k in _jsonb_key_order(tuple(value))}
    if isinstance(value, list):
        return [as_jsonb(v) for v in value]
    return value


def new_order_out(row: Mapping[str, Any], items: Sequence[Mapping[str, Any]], customer_name: str) -> OrderOut:
    """An order created in this transaction, from the values its statement writes (its row, its items by
    position), its JSONB columns as a read would give them (`as_jsonb`): it has no tickets yet (the EOMS
    bridge opens them from its events, which leave after the commit), so nothing to read."""
    return OrderOut(**{k: row[k] for k in _ORDER_FIELDS if k != "history"}, history=as_jsonb(row["history"]),
                    customer_name=customer_name, items=[
                        OrderItemOut(id=i["id"], product=i["product"], business_kind=i["business_kind"],
                                     attributes=as_jsonb(i["attributes"]))
                        for i in items])


async def customer_names(session: AsyncSession, ids: Sequence[str]) -> dict[str, str]:
    """Customer id → name, for many orders or complaints at once."""
    if not ids:
        return {}
    rows = (await session.execute(select(customers.c.id, customers.c.name).where(customers.c.id.in_(set(ids))))).all()
    return {r.id: r.name for r in rows}


async def orders_out(session: AsyncSession, rows: Sequence[Any]) -> list[OrderOut]:
    ids = [r.id for r in rows]
    items: dict[str, list[Any]] = defaultdict(list)
    if ids:
        for i in (await session.execute(select(order_items).where(order_items.c.order_id.in_(ids))
                                        .order_by(order_items.c.order_id, order_items.c.position))).all():
            items[i.order_id].append(i)
    trails = await tickets_of(session, "order", ids)
    names = await customer_names(session, [r.customer_id for r in rows])
    return [order_out(r, items[r.id], trails[r.id], names.get(r.customer_id, r.customer_id)) for r in rows]


async def complaints_out(session: AsyncSession, rows: Sequence[Any]) -> list[ComplaintOut]:
    trails = await tickets_of(session, "complaint", [r.id for r in rows])
    names = await customer_names(session, [r.customer_id for r in rows])
    fields = set(ComplaintOut.model_fields) - {"tickets", "customer_name"}
    return [ComplaintOut(**{k: r._mapping[k] for k in fields}, customer_name=names.get(r.customer_id, r.customer_id),
                         tickets=trails[r.id]) for r in rows]
