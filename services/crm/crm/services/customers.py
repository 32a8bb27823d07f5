"""Customer use cases: create, update (re-grade), reassign; tier changes go out as events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.auth import Principal, require
from backbone.events import CustomerTierChanged
from backbone.ids import new_id
from backbone.problems import Problem
from crm.access import ADMIN, WRITERS, load_customer
from crm.domain.tiering import CustomerFactors, TierResult, grade, load_tiering_config
from crm.domain.uscc import InvalidUSCC, validate_uscc
from crm.models import complaints, customers, opportunities, orders
from crm.services.events import emit


def checked_uscc(code: str, field: str = "uscc") -> str:
    """The normalised USCC, or 422 naming the field, the reason and the position."""
    try:
        return validate_uscc(code)
    except InvalidUSCC as exc:
        error: dict[str, Any] = {"field": field, "message": exc.message, "reason": exc.reason}
        if exc.position is not None:
            error["position"] = exc.position
        raise Problem(422, "Invalid request", f"{field}: {exc.message}", errors=[error]) from None


def grade_factors(industry: str, factors: dict[str, Any]) -> TierResult:
    try:
        return grade(CustomerFactors.model_validate({**factors, "industry": industry}))
    except ValueError as exc:  # pydantic ValidationError: the API models check first, this is a backstop
        raise Problem(422, "Invalid request", f"factors: {exc}",
                      errors=[{"field": "factors", "message": str(exc)}]) from None


def _uscc_taken(field: str = "uscc") -> Problem:
    return Problem(409, "Conflict", "a customer with this unified social credit code exists already",
                   errors=[{"field": field, "message": "already registered"}])


async def _tier_event(session: AsyncSession, *, customer_id: str, old: str | None, result: TierResult,
                      account_manager_id: str, at: datetime) -> None:
    await emit(session, CustomerTierChanged(
        customer_id=customer_id, old_tier=old, new_tier=result.tier.value, score=result.score, key=result.key,
        account_manager_id=account_manager_id, changed_at=at,
    ), subject=customer_id)


async def create_customer(
    session: AsyncSession, *, principal: Principal, name: str, uscc: str, industry: str, region: str,
    factors: dict[str, Any], account_manager_id: str | None,
) -> str:
    require(principal, *WRITERS)
    if not principal.has(ADMIN):
        # An account manager registers customers for themselves; assigning them is an admin's job.
        if account_manager_id not in (None, principal.subject):
            raise Problem(403, "Forbidden", "an account manager creates customers for themselves only",
                          errors=[{"field": "account_manager_id", "message": "must be yourself"}])
        account_manager_id = principal.subject
    elif not account_manager_id:
        raise Problem(422, "Invalid request", "account_manager_id: is required",
                      errors=[{"field": "account_manager_id", "message": "is required"}])
    code = checked_uscc(uscc)
    result = grade_factors(industry, factors)
    customer_id = new_id("cus")
    now = datetime.now(UTC)
    try:
        async with session.begin_nested():
            await session.execute(customers.insert().values(
                id=customer_id, name=name, uscc=code, industry=industry, region=region,
                account_manager_id=account_manager_id, tier=result.tier.value, key_customer=result.key,
                tier_score=result.score, tier_factors=factors, tier_result=result.model_dump(mode="json"),
                tier_config_version=load_tiering_config().version, created_by=principal.subject,
                created_at=now, updated_at=now,
            ))
    except IntegrityError:
        raise _uscc_taken() from None
    await _tier_event(session, customer_id=customer_id, old=None, result=result,
                      account_manager_id=account_manager_id, at=now)
    return customer_id


async def update_customer(session: AsyncSession, *, principal: Principal, customer_id: str,
                          changes: dict[str, Any]) -> None:
    """Apply a partial update; new factors or industry re-grade the customer."""
    row = await load_customer(session, principal, customer_id, write=True, lock=True)
    values: dict[str, Any] = {k: changes[k] for k in ("name", "region", "industry") if k in changes}
    if "uscc" in changes:
        values["uscc"] = checked_uscc(changes["uscc"])
    manager = changes.get("account_manager_id")
    if manager is not None and manager != row.account_manager_id:
        if not principal.has(ADMIN):
            raise Problem(403, "Forbidden", "only an admin reassigns a customer to another account manager",
                          errors=[{"field": "account_manager_id", "message": "only an admin may change it"}])
        values["account_manager_id"] = manager
    now = datetime.now(UTC)
    regraded: TierResult | None = None
    if "factors" in changes or "industry" in changes:
        factors = {**row.tier_factors, **(changes.get("factors") or {})}
        regraded = grade_factors(values.get("industry", row.industry), factors)
        values.update(
            tier=regraded.tier.value, key_customer=regraded.key, tier_score=regraded.score, tier_factors=factors,
            tier_result=regraded.model_dump(mode="json"), tier_config_version=load_tiering_config().version,
        )
    if not values:
        return
    try:
        async with session.begin_nested():
            await session.execute(update(customers).where(customers.c.id == customer_id)
                                  .values(**values, updated_at=now, version=customers.c.version + 1))
    except IntegrityError:
        raise _uscc_taken() from None
    new_manager = values.get("account_manager_id", row.account_manager_id)
    if "account_manager_id" in values:
        # The customer's work follows it to the new account manager (who sees it from now on).
        for table in (orders, complaints, opportunities):
            await session.execute(update(table).where(table.c.customer_id == customer_id)
                                  .values(account_manager_id=new_manager))
    if regraded is not None and regraded.tier.value != row.tier:
        await _tier_event(session, customer_id=customer_id, old=row.tier, result=regraded,
                          account_manager_id=new_manager, at=now)

