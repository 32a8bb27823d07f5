"""Complaints / faults: created → dispatched → resolved → revisited (satisfaction 1..5) → archived.

Creating one emits `crm.complaint.created` (the EOMS bridge opens a complaint_fault ticket from
it); every status change emits `crm.complaint.status_changed`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.auth import Principal, require
from backbone.events import ComplaintCreated, ComplaintStatusChanged
from backbone.ids import new_id
from backbone.problems import Problem
from crm.access import ADMIN, WRITERS, check_owned, load_customer, not_found
from crm.domain.lifecycle import ComplaintAction, ComplaintState, InvalidSatisfaction, transition
from crm.domain.products import UnknownProduct, load_catalogue
from crm.models import complaints
from crm.services.events import emit, history_entry

log = logging.getLogger("crm.complaints")

#: by REST: the account manager's own steps; dispatch and resolve follow the EOMS ticket (admin may force)
MANAGER_ACTIONS = frozenset({ComplaintAction.REOPEN, ComplaintAction.REVISIT, ComplaintAction.ARCHIVE})


async def create(session: AsyncSession, *, principal: Principal, customer_id: str, category: str, severity: str,
                 product: str | None, service_ref: str | None, description: str) -> str:
    customer = await load_customer(session, principal, customer_id, write=True, field="customer_id")
    if product is not None:
        try:
            load_catalogue().get(product)
        except UnknownProduct as exc:
            raise Problem(422, "Invalid request", f"product: {exc.message}",
                          errors=[{"field": "product", "message": exc.message}]) from None
    complaint_id = new_id("cmp")
    now = datetime.now(UTC)
    state = ComplaintState.CREATED.value
    await session.execute(complaints.insert().values(
        id=complaint_id, customer_id=customer_id, account_manager_id=customer.account_manager_id,
        category=category, severity=severity, product=product, service_ref=service_ref, description=description,
        status=state, created_by=principal.subject,
        history=[history_entry(None, state, "create", principal.subject, now)], created_at=now, updated_at=now,
    ))
    await emit(session, ComplaintCreated(
        customer_id=customer.id, customer_name=customer.name, customer_tier=customer.tier,
        customer_key=customer.key_customer, account_manager_id=customer.account_manager_id,
        complaint_id=complaint_id, category=category, severity=severity, product=product,
        description=description, created_at=now,
    ), subject=complaint_id)
    return complaint_id


async def load_complaint(session: AsyncSession, principal: Principal, complaint_id: str, *,
                         write: bool = False) -> Any:
    row = (await session.execute(select(complaints).where(complaints.c.id == complaint_id))).first()
    if row is None:
        raise not_found("complaint", complaint_id)
    check_owned(principal, "complaint", complaint_id, row.account_manager_id, write=write)
    return row


async def act(session: AsyncSession, *, principal: Principal, complaint_id: str, action: ComplaintAction,
              satisfaction: int | None = None, note: str | None = None) -> None:
    require(principal, *WRITERS)
    await load_complaint(session, principal, complaint_id, write=True)
    if action not in MANAGER_ACTIONS and not principal.has(ADMIN):
        raise Problem(403, "Forbidden", f"{action.value} follows the EOMS ticket; only an admin may force it")
    await apply_action(session, complaint_id=complaint_id, action=action, actor=principal.subject,
                       at=datetime.now(UTC), satisfaction=satisfaction, note=note)


async def apply_action(session: AsyncSession, *, complaint_id: str, action: ComplaintAction, actor: str,
                       at: datetime, satisfaction: int | None = None, note: str | None = None,
                       ticket_id: str | None = None) -> ComplaintState:
    row = (await session.execute(select(complaints).where(complaints.c.id == complaint_id)
                                 .with_for_update())).first()
    if row is None:
        raise not_found("complaint", complaint_id)
    old = ComplaintState(row.status)
    try:
        new = transition(old, action, satisfaction=satisfaction)
    except InvalidSatisfaction as exc:
        raise Problem(422, "Invalid request", f"satisfaction: {exc.message}",
                      errors=[{"field": "satisfaction", "message": exc.message}]) from None
    values: dict[str, Any] = {"status": new.value, "updated_at": at, "version": complaints.c.version + 1}
    if action is ComplaintAction.REVISIT:
        values.update(satisfaction=satisfaction, revisit_note=note)
    entry = history_entry(old.value, new.value, action.value, actor, at, note, ticket_id=ticket_id,
                          satisfaction=satisfaction)
    await session.execute(update(complaints).where(complaints.c.id == complaint_id)
                          .values(**values, history=complaints.c.history.op("||")([entry])))
    await emit(session, ComplaintStatusChanged(
        complaint_id=complaint_id, customer_id=row.customer_id, from_status=old.value, to_status=new.value,
        satisfaction=satisfaction, changed_at=at,
    ), subject=complaint_id)
    log.info("complaint %s: %s -> %s (%s by %s)", complaint_id, old.value, new.value, action.value, actor)
    return new
