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

from backbone.events import ComplaintCreated, ComplaintStatusChanged
from backbone.ids import new_id
from backbone.outbox import emit
from crm.domain.errors import EntityNotFound, InvalidField
from crm.domain.history import history_entry
from crm.domain.lifecycle import ComplaintAction, ComplaintState, transition
from crm.domain.products import Catalogue, UnknownProduct
from crm.domain.scope import Scope
from crm.models import complaints
from crm.services.customers import event_customer, load_customer

log = logging.getLogger("crm.complaints")


async def create(session: AsyncSession, *, scope: Scope, catalogue: Catalogue, customer_id: str, category: str,
                 severity: str, product: str | None, service_ref: str | None, description: str) -> str:
    customer = await load_customer(session, scope, customer_id, field="customer_id")
    if product is not None:
        try:
            catalogue.get(product)
        except UnknownProduct as exc:
            raise InvalidField("product", exc.message, code=exc.code) from None
    complaint_id = new_id("cmp")
    now = datetime.now(UTC)
    state = ComplaintState.CREATED.value
    await session.execute(complaints.insert().values(
        id=complaint_id, customer_id=customer_id, account_manager_id=customer.account_manager_id,
        category=category, severity=severity, product=product, service_ref=service_ref, description=description,
        status=state, created_by=scope.actor,
        history=[history_entry(None, state, "create", scope.actor, now)], created_at=now, updated_at=now,
    ))
    await emit(session, ComplaintCreated(
        **event_customer(customer), complaint_id=complaint_id, category=category, severity=severity,
        product=product, description=description, created_at=now,
    ), subject=complaint_id)
    return complaint_id


async def load_complaint(session: AsyncSession, scope: Scope, complaint_id: str) -> Any:
    """The complaint row if it is within the scope; 404 otherwise."""
    row = (await session.execute(select(complaints).where(complaints.c.id == complaint_id))).first()
    if row is None or not scope.covers(row.account_manager_id):
        raise EntityNotFound("complaint", complaint_id)
    return row


async def act(session: AsyncSession, *, actor: str, complaint_id: str, action: ComplaintAction,
              satisfaction: int | None = None, note: str | None = None) -> None:
    """A REST step on a complaint the caller may change (the router checked the scope and the action)."""
    await apply_action(session, complaint_id=complaint_id, action=action, actor=actor, at=datetime.now(UTC),
                       satisfaction=satisfaction, note=note)


async def apply_action(session: AsyncSession, *, complaint_id: str, action: ComplaintAction, actor: str,
                       at: datetime, satisfaction: int | None = None, note: str | None = None,
                       ticket_id: str | None = None) -> ComplaintState:
    row = (await session.execute(select(complaints).where(complaints.c.id == complaint_id)
                                 .with_for_update())).first()
    if row is None:
        raise EntityNotFound("complaint", complaint_id)
    old = ComplaintState(row.status)
    new = transition(old, action, satisfaction=satisfaction)  # IllegalTransition (409), InvalidSatisfaction (422)
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
