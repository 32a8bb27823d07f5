"""TMF621 Trouble Ticket on the CRM: a trouble ticket here is a customer complaint (投诉).

POST opens a complaint (then the usual complaint → EOMS flow: `crm.complaint.created`, the bridge opens the
complaint's tickets); PATCH moves it along the TMF621 status model mapped onto the complaint lifecycle
(`crm.domain.lifecycle.COMPLAINT`); GET list / by id read it. The EOMS bridge has a TMF621 face of its own
for network-originated tickets (docs/tmf.md).

Status ← complaint status: created → acknowledged, dispatched → inProgress, resolved / revisited →
resolved, archived → closed. A PATCH of `status`:

- resolved → inProgress: reopen (the account manager's);
- resolved → closed: revisit + archive, with the customer's `satisfaction` (1..5, an extension member);
  revisited → closed: archive;
- acknowledged → inProgress (dispatch) and inProgress → resolved (resolve) follow the EOMS ticket: an
  admin's override only (403);
- anything else (rejected, pending, held, cancelled, or a step the lifecycle does not have) is a 409.

Severity: TMF621 words critical / major / minor / low (or the CRM's critical / high / medium / low);
ticketType: the complaint category (fault, service_quality, billing, business_handling, other).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from backbone.errors import Conflict, DomainError
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
from backbone.vocabulary import ComplaintCategory
from crm import access
from crm.access import owner_filter
from crm.api.deps import ActorDep, ContextDep, IdempotencyDep, SessionDep, WorkReaderDep, WriterDep
from crm.api.views import ComplaintOut, complaints_out
from crm.domain.lifecycle import ComplaintAction
from crm.models import complaints
from crm.services import complaints as complaint_service
from crm.tmf_events import COMPLAINT_STATUS

TICKET_BASE = "/tmf-api/troubleTicket/v4/troubleTicket"
router = APIRouter(tags=["TMF621 trouble ticket (complaints)"])

#: what TMF621's TroubleTicket requires: `fields=` never drops it
TICKET_REQUIRED = ("description", "severity", "ticketType")
STATUSES = ("acknowledged", "rejected", "pending", "held", "inProgress", "cancelled", "closed", "resolved")
SEVERITY = {"critical": "critical", "major": "high", "high": "high", "minor": "medium", "medium": "medium",
            "low": "low", "warning": "low"}
#: (complaint status, TMF621 status asked) -> the complaint actions that get there
PATCH_STEPS: dict[tuple[str, str], list[ComplaintAction]] = {
    ("created", "inProgress"): [ComplaintAction.DISPATCH],
    ("dispatched", "resolved"): [ComplaintAction.RESOLVE],
    ("resolved", "inProgress"): [ComplaintAction.REOPEN],
    ("resolved", "closed"): [ComplaintAction.REVISIT, ComplaintAction.ARCHIVE],
    ("revisited", "closed"): [ComplaintAction.ARCHIVE],
}


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Party(_Open):
    id: str = Field(min_length=1, max_length=200)
    role: str | None = Field(default=None, max_length=100)


class Entity(_Open):
    id: str = Field(min_length=1, max_length=200)
    role: str | None = Field(default=None, max_length=100)


class TroubleTicketCreate(_Open):
    """TMF621 TroubleTicket_Create: description, severity, ticketType; the customer among relatedParty; the
    affected product (role affectedProduct) and service (affectedService) among relatedEntity."""

    description: str = Field(min_length=1, max_length=4000)
    severity: str = Field(min_length=1, max_length=40)
    ticketType: str = Field(min_length=1, max_length=40)
    name: str | None = Field(default=None, max_length=200)
    relatedParty: list[Party] = Field(min_length=1, max_length=20)
    relatedEntity: list[Entity] = Field(default_factory=list, max_length=20)


class TroubleTicketUpdate(_Open):
    """TMF621 TroubleTicket_Update as a merge patch: `status` (and `satisfaction`, 1..5, to close a resolved
    complaint); other members only with the values they have."""

    status: str | None = Field(default=None, max_length=40)
    statusChangeReason: str | None = Field(default=None, max_length=2000)
    satisfaction: int | None = Field(default=None, ge=1, le=5)


class TroubleTicket(TmfResource):
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


def trouble_ticket(c: ComplaintOut) -> TroubleTicket:
    entities = []
    if c.product:
        entities.append({"id": c.product, "role": "affectedProduct", "@referredType": "ProductSpecification"})
    if c.service_ref:
        entities.append({"id": c.service_ref, "role": "affectedService", "@referredType": "Service"})
    entities += [{"id": t.ticket_id, "role": t.ticket_kind, "@referredType": "TroubleTicket"} for t in c.tickets]
    return TroubleTicket(
        id=c.id, href=f"{TICKET_BASE}/{c.id}", name=f"{c.category} complaint of {c.customer_id}",
        description=c.description, severity=c.severity, ticketType=c.category, status=COMPLAINT_STATUS[c.status],
        creationDate=c.created_at, lastUpdate=c.updated_at,
        relatedParty=[{"id": c.customer_id, "role": "customer", "@referredType": "Organization"},
                      {"id": c.account_manager_id, "role": "accountManager", "@referredType": "Individual"}],
        relatedEntity=entities,
        statusChange=[{"status": COMPLAINT_STATUS.get(h["to"], h["to"]), "changeDate": h["at"],
                       "changeReason": h.get("reason") or h["action"]} for h in c.history],
        note=[{"text": c.revisit_note, "author": c.account_manager_id}] if c.revisit_note else [],
    )


def _tmf_json(response: JSONResponse) -> JSONResponse:
    response.headers["content-type"] = TMF_JSON
    return response


async def _view(session: SessionDep, complaint_id: str) -> TroubleTicket:
    row = (await session.execute(select(complaints).where(complaints.c.id == complaint_id))).one()
    return trouble_ticket((await complaints_out(session, [row]))[0])


@router.post(TICKET_BASE, status_code=201, response_model=TroubleTicket,
             summary="TMF621: open a complaint as a trouble ticket (then the complaint → EOMS flow)")
async def create_trouble_ticket(body: TroubleTicketCreate, session: SessionDep, principal: WriterDep,
                                ctx: ContextDep, idem: IdempotencyDep) -> JSONResponse:
    customers = [p.id for p in body.relatedParty if (p.role or "").lower() == "customer"]
    if len(customers) != 1:
        raise tmf_error("relatedParty", "exactly one party with role customer is needed")
    severity = SEVERITY.get(body.severity.lower())
    if severity is None:
        raise tmf_error("severity", f"one of {', '.join(SEVERITY)}")
    if body.ticketType not in {c.value for c in ComplaintCategory}:
        raise tmf_error("ticketType", f"one of {', '.join(c.value for c in ComplaintCategory)}")
    products = [e.id for e in body.relatedEntity if (e.role or "").lower() == "affectedproduct"]
    services = [e.id for e in body.relatedEntity if (e.role or "").lower() == "affectedservice"]
    if len(products) > 1 or len(services) > 1:
        raise tmf_error("relatedEntity", "at most one affectedProduct and one affectedService")
    async with session.begin():
        if (replay := await idem.begin(session)) is not None:
            return _tmf_json(replay)
        try:
            complaint_id = await complaint_service.create(
                session, scope=access.writer(principal), catalogue=ctx.catalogue, customer_id=customers[0],
                category=body.ticketType, severity=severity, product=products[0] if products else None,
                service_ref=services[0] if services else None, description=body.description)
        except DomainError as exc:
            _rename(exc, {"customer_id": "relatedParty", "product": "relatedEntity.affectedProduct"})
            raise
        out = dump(await _view(session, complaint_id))
        return _tmf_json(await idem.finish(session, 201, out, {"Location": out["href"]}))


def _rename(exc: DomainError, names: dict[str, str]) -> None:
    if exc.field:
        exc.field = names.get(exc.field, exc.field)
    for entry in exc.errors or []:
        entry["field"] = names.get(entry["field"], entry["field"])


CreationDates = Annotated[DateRange, date_range("creationDate")]


@router.get(TICKET_BASE, response_model=list[TroubleTicket],
            summary="TMF621: complaints as trouble tickets (offset/limit, fields=, status=, creationDate.gte= ...)")
async def list_trouble_tickets(session: SessionDep, principal: WorkReaderDep, paging: PagingDep,
                               created: CreationDates, fields: FieldsQuery = None,
                               status: StatesQuery = None) -> JSONResponse:
    scope = access.work_reader(principal)
    wanted = check_values("status", split_values(status), STATUSES)
    conditions = created.conditions(complaints.c.created_at)
    if wanted:
        conditions.append(complaints.c.status.in_([s for s, tmf in COMPLAINT_STATUS.items() if tmf in wanted]))
    if (mine := owner_filter(scope, complaints.c.account_manager_id)) is not None:
        conditions.append(mine)
    stmt = select(complaints).where(*conditions)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (await session.execute(stmt.order_by(complaints.c.created_at.desc(), complaints.c.id.desc())
                                  .offset(paging.offset).limit(paging.limit))).all()
    return list_response([trouble_ticket(c) for c in await complaints_out(session, rows)], total=total,
                         fields=fields, keep=TICKET_REQUIRED)


@router.get(f"{TICKET_BASE}/{{id}}", response_model=TroubleTicket, summary="TMF621: a complaint as a trouble ticket")
async def get_trouble_ticket(id: str, session: SessionDep, principal: WorkReaderDep,
                             fields: FieldsQuery = None) -> JSONResponse:
    row = await complaint_service.load_complaint(session, access.work_reader(principal), id)
    return resource_response(trouble_ticket((await complaints_out(session, [row]))[0]), fields=fields,
                             keep=TICKET_REQUIRED)


@router.patch(f"{TICKET_BASE}/{{id}}", response_model=TroubleTicket,
              summary="TMF621: move a complaint by its status (409 where the lifecycle has no such step)",
              openapi_extra={"requestBody": {"content": {"application/merge-patch+json": {
                  "schema": {"$ref": "#/components/schemas/TroubleTicketUpdate"}}}}})
async def patch_trouble_ticket(id: str, session: SessionDep, principal: ActorDep,
                               body: Annotated[TroubleTicketUpdate, Body()]) -> JSONResponse:
    scope = access.writer(principal)
    async with session.begin():
        row = await complaint_service.load_complaint(session, scope, id)
        current = dump(await _view(session, id))
        for name, value in (body.model_extra or {}).items():
            if current.get(name) != value:
                raise tmf_error(name, "cannot be changed (a PATCH moves the status; see docs/tmf.md)")
        if body.status is not None and body.status != current["status"]:
            check_values("status", [body.status], STATUSES)
            steps = PATCH_STEPS.get((row.status, body.status))
            if steps is None:
                raise Conflict(f"status: a complaint that is {current['status']} ({row.status}) cannot become "
                               f"{body.status}", field="status", code="illegal_transition")
            for action in steps:
                access.check_complaint_action(principal, action)
                if action is ComplaintAction.REVISIT and body.satisfaction is None:
                    raise tmf_error("satisfaction", "closing a resolved complaint needs the customer's "
                                                    "satisfaction (1..5)")
                await complaint_service.act(
                    session, actor=scope.actor, complaint_id=id, action=action,
                    satisfaction=body.satisfaction if action is ComplaintAction.REVISIT else None,
                    note=body.statusChangeReason if action is ComplaintAction.REVISIT else None)
        elif body.satisfaction is not None:
            raise tmf_error("satisfaction", "goes only with status closed, from resolved")
        return resource_response(await _view(session, id))
