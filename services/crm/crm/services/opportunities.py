"""Opportunities (商机): open → confirmed | lost. An order may start from a confirmed one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.auth import Principal, require
from backbone.ids import new_id
from crm.access import WRITERS, check_owned, load_customer, not_found
from crm.domain.lifecycle import OpportunityAction, OpportunityState, transition
from crm.models import opportunities


async def create(session: AsyncSession, *, principal: Principal, customer_id: str, title: str, channel: str,
                 products: list[str], expected_monthly_revenue: float | None, note: str | None) -> str:
    customer = await load_customer(session, principal, customer_id, write=True, field="customer_id")
    opp_id = new_id("opp")
    now = datetime.now(UTC)
    await session.execute(opportunities.insert().values(
        id=opp_id, customer_id=customer_id, account_manager_id=customer.account_manager_id, title=title,
        channel=channel, products=products, expected_monthly_revenue=expected_monthly_revenue, note=note,
        status=OpportunityState.OPEN.value, created_by=principal.subject, created_at=now, updated_at=now,
    ))
    return opp_id


async def load(session: AsyncSession, principal: Principal, opp_id: str, *, write: bool = False,
               lock: bool = False) -> Any:
    stmt = select(opportunities).where(opportunities.c.id == opp_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).first()
    if row is None:
        raise not_found("opportunity", opp_id)
    check_owned(principal, "opportunity", opp_id, row.account_manager_id, write=write, customers_too=True)
    return row


async def act(session: AsyncSession, *, principal: Principal, opp_id: str, action: OpportunityAction,
              reason: str | None) -> None:
    require(principal, *WRITERS)
    row = await load(session, principal, opp_id, write=True, lock=True)
    new_state = transition(OpportunityState(row.status), action)
    await session.execute(update(opportunities).where(opportunities.c.id == opp_id).values(
        status=new_state.value, status_reason=reason, updated_at=datetime.now(UTC)))
