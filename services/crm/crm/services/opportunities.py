"""Opportunities (商机): open → confirmed | lost. An order may start from a confirmed one.

Each step emits its event on crm.opportunities (crm.opportunity.created / status_changed): the statistics
service counts conversions from them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.events import OpportunityCreated, OpportunityStatusChanged
from backbone.ids import new_id
from backbone.outbox import emit
from backbone.vocabulary import OpportunityState
from crm.domain.errors import EntityNotFound
from crm.domain.lifecycle import OpportunityAction, transition
from crm.domain.scope import Scope
from crm.models import opportunities
from crm.services.customers import load_customer


async def create(session: AsyncSession, *, scope: Scope, customer_id: str, title: str, channel: str,
                 products: list[str], expected_monthly_revenue: float | None, note: str | None) -> str:
    customer = await load_customer(session, scope, customer_id, field="customer_id")
    opp_id = new_id("opp")
    now = datetime.now(UTC)
    await session.execute(opportunities.insert().values(
        id=opp_id, customer_id=customer_id, account_manager_id=customer.account_manager_id, title=title,
        channel=channel, products=products, expected_monthly_revenue=expected_monthly_revenue, note=note,
        status=OpportunityState.OPEN.value, created_by=scope.actor, created_at=now, updated_at=now,
    ))
    await emit(session, OpportunityCreated(
        opportunity_id=opp_id, customer_id=customer_id, account_manager_id=customer.account_manager_id,
        channel=channel, products=products, created_at=now), subject=opp_id)
    return opp_id


async def load(session: AsyncSession, scope: Scope, opp_id: str, *, lock: bool = False) -> Any:
    """The opportunity row if it is within the scope; 404 otherwise."""
    stmt = select(opportunities).where(opportunities.c.id == opp_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).first()
    if row is None or not scope.covers(row.account_manager_id):
        raise EntityNotFound("opportunity", opp_id)
    return row


async def act(session: AsyncSession, *, scope: Scope, opp_id: str, action: OpportunityAction,
              reason: str | None) -> None:
    row = await load(session, scope, opp_id, lock=True)
    new_state = transition(OpportunityState(row.status), action)
    now = datetime.now(UTC)
    await session.execute(update(opportunities).where(opportunities.c.id == opp_id).values(
        status=new_state.value, status_reason=reason, updated_at=now))
    await emit(session, OpportunityStatusChanged(
        opportunity_id=opp_id, customer_id=row.customer_id, account_manager_id=row.account_manager_id,
        from_status=row.status, to_status=new_state.value, reason=reason, changed_at=now), subject=opp_id)
