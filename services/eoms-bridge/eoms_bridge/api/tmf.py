"""TMF621 Trouble Ticket on the EOMS bridge: /tmf-api/troubleTicket/v4/troubleTicket[/{id}].

- GET list / by id: every ticket the caller reaches, as the TMF621 v4 `TroubleTicket`
  (`domain/tmf621.py:trouble_ticket`), TMF630 paging, `fields=`, filtering, absent fields omitted.
- POST: a **network-originated** ticket (fault management, an OSS): a `complaint_fault` ticket on the
  complaint/fault workflow of the related product (`services/network_tickets.py`), severity mapped to
  priority, idempotent on the reporter's `externalId` (201 the first time, 200 with the same ticket
  after).
- PATCH (merge patch): a status of TMF621's model becomes the node actions the workflow allows from
  here (`domain/tmf621.py:status_plan`; 409 with the reason otherwise), plus description, severity and
  notes.

Errors are TMF `Error` bodies (`backbone.tmf`: every path under /tmf-api), naming the field.
docs/tmf.md ("TMF621 Trouble Ticket") documents the mapping.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, literal_column, select
from sqlalchemy.engine import RowMapping

from backbone.authz import authorize
from backbone.db import db_now
from backbone.tmf import (
    DateRange,
    FieldsQuery,
    PagingDep,
    TmfResource,
    TmfResponse,
    check_values,
    date_range,
    list_response,
    resource_response,
    split_values,
    tmf_error,
)
from backbone.vocabulary import PRODUCT_IDS, TokenRole
from eoms_bridge.api.deps import (
    SEES_ALL,
    ContextDep,
    Principal,
    SessionDep,
    StoreDep,
    actor_of,
    ticket_scope,
)
from eoms_bridge.domain.errors import TicketNotFoundError
from eoms_bridge.domain.ticket import Actor
from eoms_bridge.domain.tmf621 import STATE_OF_STATUS, StatusChange, TmfStatus, trouble_ticket
from eoms_bridge.models import NETWORK_ORIGIN, ticket_history, tickets
from eoms_bridge.services import network_tickets
from eoms_bridge.services.network_tickets import CustomerRef, NetworkTicketRequest, TicketChange

BASE = "/tmf-api/troubleTicket/v4"
router = APIRouter(prefix=BASE, tags=["TMF621"])
AM, INTEGRATION = TokenRole.ACCOUNT_MANAGER, TokenRole.INTEGRATION

_SCOPE = ("an account manager: own customers' tickets; an integrating system: the tickets it opened; "
          "any other ticket answers 404")
TmfReaderDep = Annotated[Principal, authorize(AM, *SEES_ALL, INTEGRATION, scope=_SCOPE)]
TmfCreatorDep = Annotated[Principal, authorize(
    INTEGRATION, TokenRole.SUPERVISOR, TokenRole.ADMIN,
    scope="opens a network-originated ticket, reported by the caller")]
TmfUpdaterDep = Annotated[Principal, authorize(
    AM, *SEES_ALL, INTEGRATION, scope=_SCOPE,
    checks="each node action of a status change is the domain's to allow: the node's role, its assignee, "
           "a supervisor's or system's authority (403)")]

#: TMF630 names of what a PATCH may change; anything else of the resource is not patchable (400).
PATCHABLE = ("description", "severity", "note", "status", "statusChangeReason", "troubleTicketCharacteristic")
#: referredType of a relatedEntity naming the product (its id a product of the catalogue).
PRODUCT_TYPES = frozenset({"product", "productoffering", "productspecification"})
CUSTOMER_TYPES = frozenset({"organization", "customer", "individual", "party"})


# ------------------------------------------------------------------ request bodies


class _Tmf(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    type_: str | None = Field(default=None, alias="@type", max_length=60)
    baseType: str | None = Field(default=None, alias="@baseType", max_length=60)
    schemaLocation: str | None = Field(default=None, alias="@schemaLocation", max_length=500)


class EntityRef(_Tmf):
    """RelatedEntity / RelatedParty of TMF621 v4 (id and @referredType required)."""

    id: str = Field(min_length=1, max_length=120)
    href: str | None = Field(default=None, max_length=500)
    name: str | None = Field(default=None, max_length=200)
    role: str | None = Field(default=None, max_length=60)
    referredType: str = Field(alias="@referredType", min_length=1, max_length=60)


class Note(_Tmf):
    id: str | None = Field(default=None, max_length=60)
    author: str | None = Field(default=None, max_length=120)
    date: datetime | None = None
    text: str = Field(min_length=1, max_length=4000)


class Characteristic(_Tmf):
    name: str = Field(min_length=1, max_length=60)
    value: str | int | float | bool
    valueType: str | None = Field(default=None, max_length=30)


class ChannelRef(_Tmf):
    id: str | None = Field(default=None, max_length=60)
    href: str | None = Field(default=None, max_length=500)
    name: str | None = Field(default=None, max_length=120)
    referredType: str | None = Field(default=None, alias="@referredType", max_length=60)


class TroubleTicketCreate(_Tmf):
    """TroubleTicket_Create of TMF621 v4: description, severity and ticketType required."""

    description: str = Field(min_length=1, max_length=4000)
    severity: str = Field(min_length=1, max_length=20, description="critical, major, minor, warning, ... (docs/tmf.md)")
    ticketType: str = Field(min_length=1, max_length=40, description="complaint_fault (or fault, incident)")
    name: str | None = Field(default=None, max_length=200)
    externalId: str | None = Field(default=None, min_length=1, max_length=40,
                                   description="the reporter's id of the fault: a retry with it opens nothing new")
    priority: str | None = Field(default=None, max_length=20, description="ignored: the bridge's, from severity")
    requestedResolutionDate: datetime | None = None
    expectedResolutionDate: datetime | None = None
    status: TmfStatus | None = Field(default=None, description="acknowledged if given (a new ticket's status)")
    statusChangeReason: str | None = Field(default=None, max_length=500)
    channel: ChannelRef | None = None
    relatedEntity: list[EntityRef] = Field(default_factory=list, max_length=20)
    relatedParty: list[EntityRef] = Field(default_factory=list, max_length=20)
    note: list[Note] = Field(default_factory=list, max_length=20)
    troubleTicketCharacteristic: list[Characteristic] = Field(default_factory=list, max_length=20)


class TroubleTicketUpdate(_Tmf):
    """TroubleTicket_Update as this bridge takes it (a merge patch); other members are not patchable."""

    description: str | None = Field(default=None, min_length=1, max_length=4000)
    severity: str | None = Field(default=None, min_length=1, max_length=20)
    status: TmfStatus | None = None
    statusChangeReason: str | None = Field(default=None, max_length=500)
    note: list[Note] | None = Field(default=None, max_length=20, description="appended to the ticket's notes")
    troubleTicketCharacteristic: list[Characteristic] | None = Field(
        default=None, max_length=5, description="`outcome`: the node's outcome when several lead to the status")


# ------------------------------------------------------------------ the resource (OpenAPI shape)


class RelatedOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    id: str
    role: str | None = None
    name: str | None = None
    href: str | None = None
    referredType: str = Field(alias="@referredType")


class StatusChangeOut(BaseModel):
    status: TmfStatus
    changeDate: datetime
    changeReason: str | None = None


class NoteOut(BaseModel):
    id: str | None = None
    author: str | None = None
    date: datetime | None = None
    text: str


class CharacteristicOut(BaseModel):
    name: str
    value: Any
    valueType: str | None = None


class TroubleTicket(TmfResource):
    """TMF621 v4 TroubleTicket (absent members are omitted, never null)."""

    name: str
    description: str | None = None
    severity: str | None = None
    priority: str | None = None
    status: TmfStatus
    ticketType: str
    externalId: str | None = None
    creationDate: datetime
    lastUpdate: datetime
    requestedResolutionDate: datetime | None = None
    resolutionDate: datetime | None = None
    statusChangeDate: datetime | None = None
    statusChangeReason: str | None = None
    relatedEntity: list[RelatedOut] = Field(default_factory=list)
    relatedParty: list[RelatedOut] | None = None
    note: list[NoteOut] | None = None
    statusChange: list[StatusChangeOut] = Field(default_factory=list)
    troubleTicketCharacteristic: list[CharacteristicOut] = Field(default_factory=list)
    type_: str = Field(default="TroubleTicket", alias="@type")


# ------------------------------------------------------------------ helpers


def _integration(principal: Principal) -> bool:
    """An integrating system holding no person's role: it reaches the tickets it opened, acts as a system."""
    return principal.has(INTEGRATION) and not principal.has(AM, *SEES_ALL)


def _visible(principal: Principal) -> Any:
    if _integration(principal):
        key = network_tickets.reporter_key(principal.subject)
        return lambda row: row["origin"] == network_tickets.NETWORK and row["origin_item_id"] == key
    return ticket_scope(principal).sees


NETWORK_TICKETS = tickets.c.origin == literal_column(f"'{NETWORK_ORIGIN}'")


def _conditions(principal: Principal) -> list[Any]:
    if _integration(principal):
        # The origin as a literal: the partial index of network tickets (`ix_eoms_tickets_network`) applies.
        return [NETWORK_TICKETS, tickets.c.origin_item_id == network_tickets.reporter_key(principal.subject)]
    return ticket_scope(principal).conditions()


def _actor(principal: Principal) -> Actor:
    return network_tickets.reporter_actor(principal.subject) if _integration(principal) else actor_of(principal)


async def _changes(session: SessionDep, ids: list[str]) -> dict[str, list[StatusChange]]:
    out: dict[str, list[StatusChange]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = (await session.execute(
        select(ticket_history.c.ticket_id, ticket_history.c.to_state, ticket_history.c.at, ticket_history.c.note)
        .where(ticket_history.c.ticket_id.in_(ids), ticket_history.c.to_state.is_not(None))
        .order_by(ticket_history.c.id))).all()
    for h in rows:
        out[h.ticket_id].append(StatusChange(state=h.to_state, at=h.at, reason=h.note))
    return out


def _resource(request: Request, row: RowMapping, changes: list[StatusChange]) -> dict[str, Any]:
    href = str(request.url_for("get_trouble_ticket", ticket_id=row["id"]).path)
    out: dict[str, Any] = jsonable_encoder(trouble_ticket(dict(row), href=href, changes=changes))
    return out


async def _one(request: Request, session: SessionDep, row: RowMapping) -> dict[str, Any]:
    return _resource(request, row, (await _changes(session, [row["id"]]))[row["id"]])


TICKET_TYPES = {"complaint_fault": "complaint_fault", "fault": "complaint_fault", "incident": "complaint_fault"}


def _product(body: TroubleTicketCreate) -> str | None:
    """The product the fault concerns: a relatedEntity of a product type, or a `product` characteristic."""
    found: list[tuple[str, str]] = []
    for i, e in enumerate(body.relatedEntity):
        if e.referredType.lower() in PRODUCT_TYPES:
            if e.id not in PRODUCT_IDS:
                raise tmf_error(f"relatedEntity.{i}.id",
                                f"{e.id!r} is not a product of the catalogue ({', '.join(sorted(PRODUCT_IDS))})")
            found.append((f"relatedEntity.{i}.id", e.id))
    for i, c in enumerate(body.troubleTicketCharacteristic):
        if c.name == "product":
            if str(c.value) not in PRODUCT_IDS:
                raise tmf_error(f"troubleTicketCharacteristic.{i}.value",
                                f"{c.value!r} is not a product of the catalogue")
            found.append((f"troubleTicketCharacteristic.{i}.value", str(c.value)))
    if len({p for _, p in found}) > 1:
        raise tmf_error(found[1][0], f"names another product than {found[0][0]} ({found[0][1]!r})")
    return found[0][1] if found else None


def _customer(body: TroubleTicketCreate) -> CustomerRef | None:
    customers = [(i, p) for i, p in enumerate(body.relatedParty)
                 if (p.role or "").lower() == "customer" or p.referredType.lower() in CUSTOMER_TYPES]
    if len(customers) > 1:
        raise tmf_error(f"relatedParty.{customers[1][0]}", "a ticket has one customer")
    if not customers:
        return None
    _, party = customers[0]
    if len(party.id) > network_tickets.MAX_ID:
        raise tmf_error(f"relatedParty.{customers[0][0]}.id", f"at most {network_tickets.MAX_ID} characters")
    return CustomerRef(id=party.id, name=party.name)


def _outcome(chars: list[Characteristic] | None) -> str | None:
    return next((str(c.value) for c in chars or [] if c.name == "outcome"), None)


# ------------------------------------------------------------------ routes

StatusQuery = Annotated[list[str] | None, Query(
    description="TMF630 filtering: one or more statuses (acknowledged, inProgress, ...), comma-separated or repeated")]
CreationDates = Annotated[DateRange, date_range("creationDate")]


@router.get("/troubleTicket", response_model=list[TroubleTicket], response_model_by_alias=True,
            summary="TMF621: list trouble tickets (offset/limit, X-Total-Count, fields=, filters)")
async def list_trouble_tickets(
    request: Request, principal: TmfReaderDep, session: SessionDep, paging: PagingDep, created: CreationDates,
    fields: FieldsQuery = None, status: StatusQuery = None,
    ticketType: Annotated[str | None, Query(max_length=40)] = None,
    relatedEntityId: Annotated[str | None, Query(max_length=120)] = None,
    externalId: Annotated[str | None, Query(max_length=40)] = None,
) -> TmfResponse:
    conds: list[Any] = [*_conditions(principal), *created.conditions(tickets.c.created_at)]
    if statuses := check_values("status", split_values(status), [s.value for s in TmfStatus]):
        conds.append(tickets.c.state.in_([STATE_OF_STATUS[TmfStatus(s)].value for s in statuses]))
    if ticketType:
        conds.append(tickets.c.kind == ticketType)
    if relatedEntityId:
        conds.append((tickets.c.origin_id == relatedEntityId) | (tickets.c.customer_id == relatedEntityId))
    if externalId:
        conds += [tickets.c.origin == network_tickets.NETWORK, tickets.c.origin_id == externalId]
    total = (await session.execute(select(func.count()).select_from(tickets).where(*conds))).scalar_one()
    rows = (await session.execute(select(tickets).where(*conds).order_by(tickets.c.id.desc())
                                  .offset(paging.offset).limit(paging.limit))).mappings().all()
    changes = await _changes(session, [r["id"] for r in rows])
    return list_response([_resource(request, r, changes[r["id"]]) for r in rows], total=total, fields=fields)


@router.get("/troubleTicket/{ticket_id}", response_model=TroubleTicket, response_model_by_alias=True,
            summary="TMF621: one trouble ticket")
async def get_trouble_ticket(ticket_id: str, request: Request, principal: TmfReaderDep, session: SessionDep,
                             fields: FieldsQuery = None) -> TmfResponse:
    r = (await session.execute(select(tickets).where(tickets.c.id == ticket_id))).mappings().first()
    if r is None or not _visible(principal)(r):  # another's ticket: 404, its existence undisclosed
        raise TicketNotFoundError(f"troubleTicket {ticket_id} not found")
    return resource_response(await _one(request, session, r), fields=fields)


@router.post("/troubleTicket", status_code=201, response_model=TroubleTicket, response_model_by_alias=True,
             summary="TMF621: open a network-originated trouble ticket (fault management)",
             responses={200: {"description": "the ticket this reporter already opened with this externalId"}})
async def create_trouble_ticket(body: TroubleTicketCreate, request: Request, principal: TmfCreatorDep,
                                session: SessionDep, store: StoreDep, context: ContextDep) -> TmfResponse:
    if body.ticketType not in TICKET_TYPES:
        raise tmf_error("ticketType", f"{body.ticketType!r}: this EOMS opens {', '.join(TICKET_TYPES)} tickets")
    if body.status is not None and body.status is not TmfStatus.ACKNOWLEDGED:
        raise tmf_error("status", "a new ticket is acknowledged; change its status with PATCH")
    req = NetworkTicketRequest(
        reporter=principal.subject, severity=body.severity, description=body.description,
        external_id=body.externalId, name=body.name, product=_product(body), customer=_customer(body),
        related=[e.model_dump(mode="json", by_alias=True, exclude_none=True) for e in body.relatedEntity],
        notes=[{**n.model_dump(mode="json", by_alias=True, exclude_none=True),
                "date": (n.date or datetime.now(UTC)).isoformat(), "author": n.author or principal.subject}
               for n in body.note],
        requested_resolution=body.requestedResolutionDate,
        extra={"channel": body.channel.model_dump(mode="json", by_alias=True, exclude_none=True)}
        if body.channel else {},
    )
    async with session.begin():
        row, created = await network_tickets.open_network_ticket(
            session, store=store, request=req, now=await db_now(session),
            generic_business_type=context.settings.generic_complaint_business_type, forward=context.forwarding,
            org=context.organisation, eoms_partner=context.eoms_partner)
        resource = await _one(request, session, row)
    return resource_response(resource, status_code=201 if created else 200,
                             headers={"Location": resource["href"]})


@router.patch("/troubleTicket/{ticket_id}", response_model=TroubleTicket, response_model_by_alias=True,
              summary="TMF621: change a trouble ticket's status (as its workflow allows) or attributes")
async def patch_trouble_ticket(ticket_id: str, body: TroubleTicketUpdate, request: Request,
                               principal: TmfUpdaterDep, session: SessionDep, store: StoreDep,
                               context: ContextDep) -> TmfResponse:
    change = TicketChange(
        description=body.description, severity=body.severity, status=body.status, reason=body.statusChangeReason,
        outcome=_outcome(body.troubleTicketCharacteristic),
        notes=[{**n.model_dump(mode="json", by_alias=True, exclude_none=True),
                "date": (n.date or datetime.now(UTC)).isoformat(), "author": n.author or principal.subject}
               for n in body.note or []])
    async with session.begin():
        row = await network_tickets.update_ticket(
            session, store=store, ticket_id=ticket_id, change=change, actor=_actor(principal),
            now=await db_now(session), visible=_visible(principal), forward=context.forwarding,
            org=context.organisation, eoms_partner=context.eoms_partner)
        resource = await _one(request, session, row)
    return resource_response(resource)
