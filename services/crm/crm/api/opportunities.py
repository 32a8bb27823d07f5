"""/api/v1/opportunities: 商机, open → confirmed | lost; an order may name a confirmed one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy import select

from backbone.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, as_utc, paginate
from backbone.shapes import ClosedModel
from backbone.vocabulary import OpportunityState, ProductId, SalesChannel
from crm import access
from crm.access import owner_filter
from crm.api.deps import CustomerReaderDep, IdempotencyDep, SessionDep, WriterDep
from crm.api.views import OpportunityOut, opportunity_out
from crm.domain.lifecycle import OpportunityAction
from crm.models import opportunities
from crm.services import opportunities as service

router = APIRouter(prefix="/api/v1/opportunities", tags=["opportunities"])

SORTS = {"created_at": opportunities.c.created_at, "updated_at": opportunities.c.updated_at,
         "status": opportunities.c.status}


class OpportunityIn(ClosedModel):
    customer_id: str = Field(min_length=1, max_length=40)
    title: str = Field(min_length=1, max_length=200)
    channel: SalesChannel = SalesChannel.ACCOUNT_MANAGER
    products: list[ProductId] = Field(default_factory=list, max_length=20)
    expected_monthly_revenue: float | None = Field(default=None, ge=0)
    note: str | None = Field(default=None, max_length=2000)


class OpportunityActionIn(ClosedModel):
    reason: str | None = Field(default=None, max_length=2000)


@router.get("", response_model=Page[OpportunityOut], summary="Opportunities (own customers' for an account manager)")
async def list_opportunities(
    session: SessionDep, principal: CustomerReaderDep,
    status: OpportunityState | None = None,
    customer_id: str | None = None,
    manager: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    sort: Annotated[str | None, Query(description=f"one of {', '.join(SORTS)}; - for descending")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[OpportunityOut]:
    scope = access.customer_reader(principal)
    c = opportunities.c
    conditions = [
        owner_filter(scope, c.account_manager_id),
        c.status == status.value if status else None,
        c.customer_id == customer_id if customer_id else None,
        c.account_manager_id == manager if manager else None,
        c.created_at >= as_utc(created_from) if created_from else None,
        c.created_at < as_utc(created_to) if created_to else None,
    ]
    stmt = select(opportunities).where(*[x for x in conditions if x is not None])
    rows, next_cursor = await paginate(session, stmt, id_column=c.id, sort=sort, allowed=SORTS, limit=limit,
                                       cursor=cursor)
    return Page[OpportunityOut](items=[opportunity_out(r) for r in rows], next_cursor=next_cursor)


@router.post("", status_code=201, response_model=OpportunityOut, summary="Record an opportunity")
async def create_opportunity(body: OpportunityIn, session: SessionDep, principal: WriterDep,
                             idem: IdempotencyDep) -> JSONResponse:
    async with session.begin():
        if (replay := await idem.begin(session)) is not None:
            return replay
        scope = access.writer(principal)
        opp_id = await service.create(
            session, scope=scope, customer_id=body.customer_id, title=body.title, channel=body.channel.value,
            products=[p.value for p in body.products], expected_monthly_revenue=body.expected_monthly_revenue,
            note=body.note)
        out = opportunity_out(await service.load(session, scope, opp_id))
        return await idem.finish(session, 201, out, {"Location": f"{router.prefix}/{opp_id}"})


@router.get("/{opportunity_id}", response_model=OpportunityOut, summary="An opportunity")
async def get_opportunity(opportunity_id: str, session: SessionDep, principal: CustomerReaderDep) -> OpportunityOut:
    return opportunity_out(await service.load(session, access.customer_reader(principal), opportunity_id))


@router.post("/{opportunity_id}/{action}", response_model=OpportunityOut,
             summary="Confirm or lose an opportunity (open → confirmed | lost; anything else is 409)")
async def act_on_opportunity(opportunity_id: str, action: OpportunityAction, session: SessionDep,
                             principal: WriterDep, idem: IdempotencyDep,
                             body: OpportunityActionIn | None = None) -> JSONResponse:
    async with session.begin():
        if (replay := await idem.begin(session)) is not None:
            return replay
        scope = access.writer(principal)
        await service.act(session, scope=scope, opp_id=opportunity_id, action=action,
                          reason=body.reason if body else None)
        out = opportunity_out(await service.load(session, scope, opportunity_id))
        return await idem.finish(session, 200, out)
