"""Customer use cases: create, update (re-grade), reassign; tier changes go out as events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.errors import Conflict, Forbidden
from backbone.events import CustomerTierChanged
from backbone.ids import new_id
from backbone.outbox import emit
from crm.domain.errors import EntityNotFound, InvalidField
from crm.domain.scope import Scope
from crm.domain.tiering import CustomerFactors, TieringConfig, TierResult, grade
from crm.domain.uscc import InvalidUSCC, validate_uscc
from crm.models import complaints, customers, opportunities, orders


class UsccTaken(Conflict):
    """A second customer with the same unified social credit code (409 naming the field)."""

    code = "uscc_taken"

    def __init__(self, field: str = "uscc") -> None:
        super().__init__("a customer with this unified social credit code exists already",
                         errors=[{"field": field, "message": "already registered"}])


async def load_customer(session: AsyncSession, scope: Scope, customer_id: str, *, field: str | None = None,
                        lock: bool = False) -> Any:
    """The customer row if it is within the scope; 404 otherwise (naming `field`, the path's unless told)."""
    stmt = select(customers).where(customers.c.id == customer_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).first()
    if row is None or not scope.covers(row.account_manager_id):
        raise EntityNotFound("customer", customer_id, field)
    return row


def checked_uscc(code: str, field: str = "uscc") -> str:
    """The normalised USCC, or 422 naming the field, the reason and the position."""
    try:
        return validate_uscc(code)
    except InvalidUSCC as exc:
        where = {"position": exc.position} if exc.position is not None else {}
        raise InvalidField(field, exc.message, code=exc.code, reason=exc.reason, **where) from None


def grade_factors(industry: str, factors: dict[str, Any], tiering: TieringConfig) -> TierResult:
    try:
        return grade(CustomerFactors.model_validate({**factors, "industry": industry}), tiering)
    except ValueError as exc:  # pydantic ValidationError: the API models check first, this is a backstop
        raise InvalidField("factors", str(exc)) from None


async def _tier_event(session: AsyncSession, *, customer_id: str, old: str | None, result: TierResult,
                      account_manager_id: str, at: datetime) -> None:
    await emit(session, CustomerTierChanged(
        customer_id=customer_id, old_tier=old, new_tier=result.tier.value, score=result.score, key=result.key,
        account_manager_id=account_manager_id, changed_at=at,
    ), subject=customer_id)


async def create_customer(
    session: AsyncSession, *, actor: str, tiering: TieringConfig, name: str, uscc: str, industry: str, region: str,
    factors: dict[str, Any], account_manager_id: str,
) -> str:
    """Register a customer of `account_manager_id` (the access policy decided whose it may be) and grade it."""
    code = checked_uscc(uscc)
    result = grade_factors(industry, factors, tiering)
    customer_id = new_id("cus")
    now = datetime.now(UTC)
    try:
        async with session.begin_nested():
            await session.execute(customers.insert().values(
                id=customer_id, name=name, uscc=code, industry=industry, region=region,
                account_manager_id=account_manager_id, tier=result.tier.value, key_customer=result.key,
                tier_score=result.score, tier_factors=factors, tier_result=result.model_dump(mode="json"),
                tier_config_version=tiering.version, created_by=actor, created_at=now, updated_at=now,
            ))
    except IntegrityError:
        raise UsccTaken() from None
    await _tier_event(session, customer_id=customer_id, old=None, result=result,
                      account_manager_id=account_manager_id, at=now)
    return customer_id


async def update_customer(session: AsyncSession, *, scope: Scope, tiering: TieringConfig, customer_id: str,
                          changes: dict[str, Any]) -> None:
    """Apply a partial update; new factors or industry re-grade the customer; only an admin scope reassigns it."""
    row = await load_customer(session, scope, customer_id, lock=True)
    values: dict[str, Any] = {k: changes[k] for k in ("name", "region", "industry") if k in changes}
    if "uscc" in changes:
        values["uscc"] = checked_uscc(changes["uscc"])
    manager = changes.get("account_manager_id")
    if manager is not None and manager != row.account_manager_id:
        if not scope.admin:
            raise Forbidden("only an admin reassigns a customer to another account manager",
                            errors=[{"field": "account_manager_id", "message": "only an admin may change it"}])
        values["account_manager_id"] = manager
    now = datetime.now(UTC)
    regraded: TierResult | None = None
    if "factors" in changes or "industry" in changes:
        factors = {**row.tier_factors, **(changes.get("factors") or {})}
        regraded = grade_factors(values.get("industry", row.industry), factors, tiering)
        values.update(
            tier=regraded.tier.value, key_customer=regraded.key, tier_score=regraded.score, tier_factors=factors,
            tier_result=regraded.model_dump(mode="json"), tier_config_version=tiering.version,
        )
    if not values:
        return
    try:
        async with session.begin_nested():
            await session.execute(update(customers).where(customers.c.id == customer_id)
                                  .values(**values, updated_at=now, version=customers.c.version + 1))
    except IntegrityError:
        raise UsccTaken() from None
    new_manager = values.get("account_manager_id", row.account_manager_id)
    if "account_manager_id" in values:
        # The customer's work follows it to the new account manager (who sees it from now on).
        for table in (orders, complaints, opportunities):
            await session.execute(update(table).where(table.c.customer_id == customer_id)
                                  .values(account_manager_id=new_manager))
    if regraded is not None and regraded.tier.value != row.tier:
        await _tier_event(session, customer_id=customer_id, old=row.tier, result=regraded,
                          account_manager_id=new_manager, at=now)
