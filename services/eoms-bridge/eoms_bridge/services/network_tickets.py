"""Network-originated tickets (TMF621 POST/PATCH on the bridge, e.g. from fault management).

A fault reported by a network system opens a `complaint_fault` ticket on the complaint/fault workflow
of the related product (`<product>.complaint`, or the generic complaint workflow without one, where
the triage routes it as a fault), through the same `_open` as the CRM's complaints: the same
`eoms.ticket.*` events, so the SLA timers, notify and the hub work unchanged. A PATCH turns a TMF621
status into the node actions the workflow allows (`domain/tmf621.py:status_plan`), each performed
by `tickets.act` with the domain's checks, and changes the attributes a reporter may change (recorded in
the audit trail and announced as `eoms.ticket.attributes_changed`).

Idempotent on the reporter's `externalId`: the ticket's unique key is (origin_id = externalId,
origin_item_id = the reporter, kind), so a retrying fault manager gets its first ticket back.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from backbone import events as wire
from backbone.errors import Invalid
from backbone.ids import new_id
from backbone.outbox import emit
from backbone.vocabulary import GENERIC_COMPLAINT, TicketKind
from eoms_bridge.domain.dispatch import Organisation
from eoms_bridge.domain.errors import TicketNotFoundError
from eoms_bridge.domain.routing import complaint_business_types
from eoms_bridge.domain.ticket import Actor
from eoms_bridge.domain.tmf621 import TmfStatus, normalize_severity, status_plan, tier_of_severity
from eoms_bridge.models import NETWORK_ORIGIN, ticket_history, tickets
from eoms_bridge.services import tickets as ticket_service
from eoms_bridge.services.snapshot import from_snapshot
from eoms_bridge.services.workflows import WorkflowStore, first_latest

log = logging.getLogger("eoms_bridge.network_tickets")

NETWORK = NETWORK_ORIGIN
KIND = TicketKind.COMPLAINT_FAULT
#: The generic complaint workflow's triage routes a complaint by `data.category`: a network ticket is a fault.
CATEGORY = "fault"
#: The widest an id column is (`backbone.db.Id`): an externalId longer than this is refused (422).
MAX_ID = 40


def reporter_key(subject: str) -> str:
    """The reporter as stored in `origin_item_id` (the token's subject; a longer one hashed to fit)."""
    return subject if len(subject) <= MAX_ID else "h:" + hashlib.sha256(subject.encode()).hexdigest()[:MAX_ID - 2]


def reporter_actor(subject: str) -> Actor:
    """An integrating system acts with a system's authority (hold, release, cancel, close), works no node."""
    return Actor.system(f"tmf:{subject}")


@dataclass(frozen=True)
class CustomerRef:
    id: str
    name: str | None = None


@dataclass(frozen=True)
class NetworkTicketRequest:
    """What a TMF621 POST says, as plain values (the API layer has checked its shape)."""

    reporter: str  # the caller's subject
    severity: str
    description: str
    external_id: str | None = None
    name: str | None = None
    product: str | None = None
    customer: CustomerRef | None = None
    related: Sequence[Mapping[str, Any]] = ()  # related entities as given (kept with the ticket)
    notes: Sequence[Mapping[str, Any]] = ()
    requested_resolution: datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


async def find_by_external_id(session: AsyncSession, *, reporter: str, external_id: str) -> RowMapping | None:
    return (await session.execute(select(tickets).where(
        tickets.c.origin_id == external_id, tickets.c.origin_item_id == reporter_key(reporter),
        tickets.c.kind == KIND.value, tickets.c.origin == NETWORK))).mappings().first()


async def _known_customer(session: AsyncSession, customer_id: str) -> RowMapping | None:
    """What the bridge learnt of a customer from the CRM's orders and complaints (its latest ticket)."""
    return (await session.execute(
        select(tickets.c.customer_name, tickets.c.customer_tier, tickets.c.account_manager_id,
               tickets.c.customer_region)
        .where(tickets.c.customer_id == customer_id, tickets.c.origin != NETWORK)
        .order_by(tickets.c.updated_at.desc()).limit(1))).mappings().first()


async def open_network_ticket(
    session: AsyncSession, *, store: WorkflowStore, request: NetworkTicketRequest, now: datetime,
    generic_business_type: str = GENERIC_COMPLAINT, forward: bool = False, org: Organisation | None = None,
    eoms_partner: str | None = None,
) -> tuple[RowMapping, bool]:
    """Open the ticket (or find the one this reporter already opened for this externalId): (row, created).

    The customer (TMF relatedParty) is optional: one the bridge knows from the CRM's events brings its
    name, tier, account manager and region; an unknown one its id and the name given, at the tier of the
    severity (`domain/tmf621.py:SEVERITIES`), as does a ticket naming no customer. Notify finds an
    account manager by the customer id in its directory.
    """
    severity = normalize_severity(request.severity)
    if request.external_id is not None:
        if not 1 <= len(request.external_id) <= MAX_ID:
            raise Invalid(f"must have 1 to {MAX_ID} characters", field="externalId")
        found = await find_by_external_id(session, reporter=request.reporter, external_id=request.external_id)
        if found is not None:
            return found, False
    wf = await first_latest(session, store, complaint_business_types(request.product, generic_business_type),
                            what="network ticket")
    tier, account_manager, region = tier_of_severity(severity).value, "", None
    customer_id, customer_name = "", ""
    if request.customer is not None:
        customer_id, customer_name = request.customer.id, request.customer.name or request.customer.id
        known = await _known_customer(session, customer_id)
        if known is not None:
            customer_name, tier = known["customer_name"], known["customer_tier"]
            account_manager, region = known["account_manager_id"], known["customer_region"]
    origin_id = request.external_id or new_id("net")
    data: dict[str, Any] = {
        "category": CATEGORY, "product": request.product, "source": NETWORK, "reported_by": request.reporter,
        "external_id": request.external_id, "name": request.name, "related_entity": list(request.related),
        "notes": list(request.notes),
        "requested_resolution_date": request.requested_resolution.isoformat() if request.requested_resolution
        else None, **request.extra,
    }
    origin = ticket_service.Origin(
        origin=NETWORK, origin_id=origin_id, origin_item_id=reporter_key(request.reporter), customer_id=customer_id,
        customer_name=customer_name, customer_tier=tier, account_manager_id=account_manager, severity=severity,
        description=request.description, data={k: v for k, v in data.items() if v is not None},
        customer_region=region,
    )
    tid = await ticket_service._open(session, wf=wf, kind=KIND, origin=origin, now=now, forward=forward, org=org,
                                     eoms_partner=eoms_partner, actor=reporter_actor(request.reporter))
    if tid is None:  # a concurrent retry of the same externalId got there first
        found = await find_by_external_id(session, reporter=request.reporter, external_id=origin_id)
        assert found is not None
        return found, False
    row = (await session.execute(select(tickets).where(tickets.c.id == tid))).mappings().one()
    return row, True


@dataclass(frozen=True)
class TicketChange:
    """A TMF621 PATCH as plain values: attributes, then a status (with its reason, and the outcome of
    the node when it has several leading to the asked end)."""

    description: str | None = None
    severity: str | None = None
    notes: Sequence[Mapping[str, Any]] = ()
    status: TmfStatus | None = None
    reason: str | None = None
    outcome: str | None = None


async def update_ticket(
    session: AsyncSession, *, store: WorkflowStore, ticket_id: str, change: TicketChange, actor: Actor,
    now: datetime, visible: Any = None, forward: bool = False, org: Organisation | None = None,
    eoms_partner: str | None = None,
) -> RowMapping:
    """Apply a TMF621 PATCH under the ticket's row lock; returns the stored row after it.

    `visible(row) -> bool` says whether the caller reaches the ticket (else not found: its existence is
    not disclosed). Attribute changes are recorded in the audit trail (`attributes_changed`); the status
    becomes the node actions of `status_plan`, each through `tickets.act` (the domain checks who may).
    """
    row = (await session.execute(
        select(tickets).where(tickets.c.id == ticket_id).with_for_update())).mappings().first()
    if row is None or (visible is not None and not visible(row)):
        raise TicketNotFoundError(f"troubleTicket {ticket_id} not found")
    changed: dict[str, Any] = {}
    if change.description is not None and change.description != row["description"]:
        changed["description"] = change.description
    if change.severity is not None and (severity := normalize_severity(change.severity)) != row["severity"]:
        changed["severity"] = severity
    if change.notes:
        data = dict(row["data"] or {})
        data["notes"] = [*data.get("notes", []), *change.notes]
        changed["data"] = data
    wf = await store.get(session, row["workflow_id"], row["workflow_version"])
    ticket = from_snapshot(row["snapshot"], wf)
    if changed:
        await session.execute(update(tickets).where(tickets.c.id == ticket_id).values(
            **changed, updated_at=now, version=tickets.c.version + 1))
        names = [k if k != "data" else "note" for k in changed]
        await session.execute(insert(ticket_history).values(
            ticket_id=ticket_id, event_type="attributes_changed", actor=actor.id, at=now,
            note=", ".join(names)))
        await emit(session, wire.TicketAttributesChanged(
            **ticket_service._context(ticket, ticket_service.Origin.of_row(row)), changed=names, changed_at=now,
            actor=actor.id, description=changed.get("description"), severity=changed.get("severity"),
            note=str(change.notes[-1].get("text")) if change.notes else None), subject=ticket_id)
    if change.status is not None:
        if change.status is TmfStatus.REJECTED and not (change.reason or "").strip():
            raise Invalid("a rejection needs the reason", field="statusChangeReason")
        for step in status_plan(ticket, change.status, outcome=change.outcome):
            await ticket_service.act(
                session, store=store, ticket_id=ticket_id, action=step.action, actor=actor, now=now,
                outcome=step.outcome, data={"reason": change.reason} if change.reason else None,
                reason=change.reason, forward=forward, org=org, eoms_partner=eoms_partner)
    return (await session.execute(select(tickets).where(tickets.c.id == ticket_id))).mappings().one()
