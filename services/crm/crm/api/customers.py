"""/api/v1/customers: enterprise customers, their USCC and their tier (with the reasons)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy import or_, select

from backbone.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, as_utc, paginate
from backbone.shapes import ClosedModel
from backbone.vocabulary import Tier
from crm import access
from crm.access import owner_filter
from crm.api.deps import AgentCustomerReaderDep, ContextDep, IdempotencyDep, SessionDep, WriterDep
from crm.api.views import CustomerOut, customer_out
from crm.domain.vocabulary import Industry, UnifiedPayment
from crm.models import customers
from crm.services import customers as service

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])

SORTS = {"created_at": customers.c.created_at, "updated_at": customers.c.updated_at, "name": customers.c.name,
         "tier": customers.c.tier, "tier_score": customers.c.tier_score}


class FactorsIn(ClosedModel):
    """The tiering factors (their weights are data: crm/data/tiering.yaml)."""

    employees: int = Field(ge=0, le=10_000_000, description="number of employees")
    handset_share: float = Field(ge=0, le=1, description="our share of the staff's handsets, 0..1")
    informatization_level: int = Field(ge=1, le=5, description="1 (paper) .. 5 (fully digital)")
    unified_payment: UnifiedPayment
    influence: int = Field(ge=1, le=5, description="1 (local) .. 5 (national)")


class FactorsPatch(ClosedModel):
    employees: int | None = Field(default=None, ge=0, le=10_000_000)
    handset_share: float | None = Field(default=None, ge=0, le=1)
    informatization_level: int | None = Field(default=None, ge=1, le=5)
    unified_payment: UnifiedPayment | None = None
    influence: int | None = Field(default=None, ge=1, le=5)


class CustomerIn(ClosedModel):
    name: str = Field(min_length=1, max_length=200)
    uscc: str = Field(min_length=1, max_length=40, description="unified social credit code (18 characters)",
                      examples=["91120000103064001X"])
    industry: Industry
    region: str = Field(min_length=1, max_length=60)
    account_manager_id: str | None = Field(default=None, min_length=1, max_length=60,
                                           description="required for an admin; an account manager is the default")
    factors: FactorsIn


class CustomerPatch(ClosedModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    uscc: str | None = Field(default=None, min_length=1, max_length=40)
    industry: Industry | None = None
    region: str | None = Field(default=None, min_length=1, max_length=60)
    account_manager_id: str | None = Field(default=None, min_length=1, max_length=60, description="admin only")
    factors: FactorsPatch | None = None


@router.get("", response_model=Page[CustomerOut], summary="Search customers (own ones for an account manager)")
async def list_customers(
    session: SessionDep, principal: AgentCustomerReaderDep,
    q: Annotated[str | None, Query(max_length=100, description="part of the name, or the USCC's start")] = None,
    tier: Tier | None = None,
    manager: Annotated[str | None, Query(description="account manager id")] = None,
    industry: Industry | None = None,
    region: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    sort: Annotated[str | None, Query(description=f"one of {', '.join(SORTS)}; - for descending")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[CustomerOut]:
    scope = access.agent_customer_reader(principal)
    c = customers.c
    stmt = select(customers)
    conditions = [
        owner_filter(scope, c.account_manager_id, c.id),
        c.tier == tier.value if tier else None,
        c.account_manager_id == manager if manager else None,
        c.industry == industry.value if industry else None,
        c.region == region if region else None,
        c.created_at >= as_utc(created_from) if created_from else None,
        c.created_at < as_utc(created_to) if created_to else None,
        or_(c.name.contains(q, autoescape=True), c.uscc.startswith(q.upper(), autoescape=True)) if q else None,
    ]
    stmt = stmt.where(*[x for x in conditions if x is not None])
    rows, next_cursor = await paginate(session, stmt, id_column=c.id, sort=sort, allowed=SORTS, limit=limit,
                                       cursor=cursor)
    return Page[CustomerOut](items=[customer_out(r) for r in rows], next_cursor=next_cursor)


@router.post("", status_code=201, response_model=CustomerOut, summary="Register a customer; its tier is computed")
async def create_customer(body: CustomerIn, session: SessionDep, principal: WriterDep, ctx: ContextDep,
                          idem: IdempotencyDep) -> JSONResponse:
    async with session.begin():
        if (replay := await idem.begin(session)) is not None:
            return replay
        scope = access.writer(principal)
        customer_id = await service.create_customer(
            session, actor=scope.actor, tiering=ctx.tiering, name=body.name, uscc=body.uscc,
            industry=body.industry.value, region=body.region, factors=body.factors.model_dump(mode="json"),
            account_manager_id=access.new_customer_manager(principal, body.account_manager_id))
        out = customer_out(await service.load_customer(session, access.customer_reader(principal), customer_id))
        return await idem.finish(session, 201, out, {"Location": f"{router.prefix}/{customer_id}"})


@router.get("/{customer_id}", response_model=CustomerOut, summary="A customer, with why it has its tier")
async def get_customer(customer_id: str, session: SessionDep, principal: AgentCustomerReaderDep) -> CustomerOut:
    return customer_out(await service.load_customer(session, access.agent_customer_reader(principal), customer_id))


@router.patch("/{customer_id}", response_model=CustomerOut,
              summary="Change a customer; new factors re-grade it (a new tier emits crm.customer.tier_changed)")
async def patch_customer(customer_id: str, body: CustomerPatch, session: SessionDep, principal: WriterDep,
                         ctx: ContextDep) -> CustomerOut:
    changes = body.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    if "factors" in changes and not changes["factors"]:
        del changes["factors"]
    scope = access.writer(principal)
    async with session.begin():
        await service.update_customer(session, scope=scope, tiering=ctx.tiering, customer_id=customer_id,
                                      changes=changes)
        return customer_out(await service.load_customer(session, access.customer_reader(principal), customer_id))
