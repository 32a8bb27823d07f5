"""/api/v1/complaints: complaints and faults (服务投诉).

created → dispatched → resolved → revisited (satisfaction 1..5) → archived; resolved → reopen →
dispatched. dispatch / resolve follow the EOMS complaint_fault ticket (an admin may force them);
reopen / revisit / archive are the account manager's. An illegal step is 409.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy import select

from backbone.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, as_utc, paginate
from backbone.shapes import ClosedModel
from backbone.vocabulary import ComplaintCategory, ComplaintSeverity, ProductId, Tier
from crm import access
from crm.access import owner_filter
from crm.api.deps import ActorDep, ComplaintReaderDep, ComplaintRegistrarDep, ContextDep, IdempotencyDep, SessionDep
from crm.api.views import ComplaintOut, complaints_out
from crm.domain.lifecycle import ComplaintAction, ComplaintState
from crm.models import complaints, customers
from crm.services import complaints as service

router = APIRouter(prefix="/api/v1/complaints", tags=["complaints"])

SORTS = {"created_at": complaints.c.created_at, "updated_at": complaints.c.updated_at,
         "status": complaints.c.status}


class ComplaintIn(ClosedModel):
    customer_id: str = Field(min_length=1, max_length=40)
    category: ComplaintCategory
    severity: ComplaintSeverity
    product: ProductId | None = Field(default=None, description=(
        "the affected product (EOMS picks its workflow); none: EOMS's generic complaint workflow, triaged at "
        "the complaint desk by the category"))
    service_ref: str | None = Field(default=None, max_length=200,
                                    description="the affected service: circuit id, access number, order id…")
    description: str = Field(min_length=1, max_length=4000)


class ComplaintActionIn(ClosedModel):
    satisfaction: int | None = Field(default=None, description="1..5, with revisit only")
    note: str | None = Field(default=None, max_length=2000)


async def complaint_view(session: SessionDep, complaint_id: str) -> ComplaintOut:
    row = (await session.execute(select(complaints).where(complaints.c.id == complaint_id))).one()
    return (await complaints_out(session, [row]))[0]


@router.get("", response_model=Page[ComplaintOut], summary="Complaints (own customers' for an account manager)")
async def list_complaints(
    session: SessionDep, principal: ComplaintReaderDep,
    status: Annotated[list[ComplaintState] | None, Query(description="one or more statuses")] = None,
    severity: ComplaintSeverity | None = None,
    category: ComplaintCategory | None = None,
    customer_id: str | None = None,
    manager: str | None = None,
    tier: Tier | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    sort: Annotated[str | None, Query(description=f"one of {', '.join(SORTS)}; - for descending")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[ComplaintOut]:
    scope = access.complaint_reader(principal)
    c = complaints.c
    conditions = [
        owner_filter(scope, c.account_manager_id),
        c.status.in_([s.value for s in status]) if status else None,
        c.severity == severity.value if severity else None,
        c.category == category.value if category else None,
        c.customer_id == customer_id if customer_id else None,
        c.account_manager_id == manager if manager else None,
        c.customer_id.in_(select(customers.c.id).where(customers.c.tier == tier.value)) if tier else None,
        c.created_at >= as_utc(created_from) if created_from else None,
        c.created_at < as_utc(created_to) if created_to else None,
    ]
    stmt = select(complaints).where(*[x for x in conditions if x is not None])
    rows, next_cursor = await paginate(session, stmt, id_column=c.id, sort=sort, allowed=SORTS, limit=limit,
                                       cursor=cursor)
    return Page[ComplaintOut](items=await complaints_out(session, rows), next_cursor=next_cursor)


@router.post("", status_code=201, response_model=ComplaintOut,
             summary="Record a complaint or fault (emits crm.complaint.created)")
async def create_complaint(body: ComplaintIn, session: SessionDep, principal: ComplaintRegistrarDep, ctx: ContextDep,
                           idem: IdempotencyDep) -> JSONResponse:
    async with session.begin():
        if (replay := await idem.begin(session)) is not None:
            return replay
        complaint_id = await service.create(
            session, scope=access.complaint_registrar(principal), catalogue=ctx.catalogue, customer_id=body.customer_id,
            category=body.category.value, severity=body.severity.value,
            product=body.product.value if body.product else None, service_ref=body.service_ref,
            description=body.description)
        out = await complaint_view(session, complaint_id)
        return await idem.finish(session, 201, out, {"Location": f"{router.prefix}/{complaint_id}"})


@router.get("/{complaint_id}", response_model=ComplaintOut, summary="A complaint with its history and ticket trail")
async def get_complaint(complaint_id: str, session: SessionDep, principal: ComplaintReaderDep) -> ComplaintOut:
    row = await service.load_complaint(session, access.complaint_reader(principal), complaint_id)
    return (await complaints_out(session, [row]))[0]


@router.post("/{complaint_id}/{action}", response_model=ComplaintOut,
             summary="Move a complaint: reopen | revisit (satisfaction) | archive (dispatch | resolve: admin); "
                     "409 if illegal")
async def act_on_complaint(complaint_id: str, action: ComplaintAction, session: SessionDep, principal: ActorDep,
                           idem: IdempotencyDep, body: ComplaintActionIn | None = None) -> JSONResponse:
    async with session.begin():
        if (replay := await idem.begin(session)) is not None:
            return replay
        scope = access.writer(principal)
        await service.load_complaint(session, scope, complaint_id)  # another manager's: 404 before any 403
        access.check_complaint_action(principal, action)
        await service.act(session, actor=scope.actor, complaint_id=complaint_id, action=action,
                          satisfaction=body.satisfaction if body else None, note=body.note if body else None)
        return await idem.finish(session, 200, await complaint_view(session, complaint_id))
