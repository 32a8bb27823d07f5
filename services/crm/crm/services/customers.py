"""Customer use cases: create, update (re-grade), reassign, re-grade everyone; tier changes go out as events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.db import run_direct
from backbone.errors import Conflict, Forbidden
from backbone.events import CustomerTierChanged
from backbone.ids import new_id
from backbone.outbox import emit
from backbone.vocabulary import Tier
from crm.domain.errors import EntityNotFound, InvalidField
from crm.domain.ranking import position_of
from crm.domain.scope import Scope
from crm.domain.tiering import (
    CustomerFactors,
    Grading,
    GradingMethod,
    TieringConfig,
    TierResult,
    grade,
    grade_all,
    score,
)
from crm.domain.uscc import InvalidUSCC, validate_uscc
from crm.models import complaints, customers, opportunities, orders


class UsccTaken(Conflict):
    """A second customer with the same unified social credit code (409 naming the field)."""

    code = "uscc_taken"

    def __init__(self, field: str = "uscc") -> None:
        super().__init__("a customer with this unified social credit code exists already",
                         errors=[{"field": field, "message": "already registered"}])


def event_customer(row: Any) -> dict[str, Any]:
    """The customer row as every CRM event naming a customer carries it (`backbone.events.CustomerRef`)."""
    return {"customer_id": row.id, "customer_name": row.name, "customer_tier": row.tier,
            "customer_key": row.key_customer, "account_manager_id": row.account_manager_id,
            "customer_region": row.region}


async def load_customer(session: AsyncSession, scope: Scope, customer_id: str, *, field: str | None = None,
                        lock: bool = False) -> Any:
    """The customer row if it is within the scope; 404 otherwise (naming `field`, the path's unless told)."""
    stmt = select(customers).where(customers.c.id == customer_id)
    if lock:
        stmt = stmt.with_for_update()
    return _in_scope((await session.execute(stmt)).first(), scope, customer_id, field)


#: What an order needs of its customer: the scope's columns and those its events carry (`event_customer`).
_CUSTOMER_REF = select(customers.c.id, customers.c.name, customers.c.tier, customers.c.key_customer,
                       customers.c.account_manager_id, customers.c.region, customers.c.agent_id
                       ).where(customers.c.id == bindparam("customer_id"))


async def load_customer_ref(session: AsyncSession, scope: Scope, customer_id: str, *, field: str | None = None) -> Any:
    """`load_customer` without the tiering columns (JSONB, decoded for nothing): what an order needs of it. In
    `backbone.db.autocommit` (read by the driver directly: `run_direct`)."""
    rows = await run_direct(session, _CUSTOMER_REF, {"customer_id": customer_id})
    return _in_scope(rows[0] if rows else None, scope, customer_id, field)


def _in_scope(row: Any, scope: Scope, customer_id: str, field: str | None) -> Any:
    if row is None or not scope.covers(row.account_manager_id, row.agent_id):
        raise EntityNotFound("customer", customer_id, field)
    return row


def checked_uscc(code: str, field: str = "uscc") -> str:
    """The normalised USCC, or 422 naming the field, the reason and the position."""
    try:
        return validate_uscc(code)
    except InvalidUSCC as exc:
        where = {"position": exc.position} if exc.position is not None else {}
        raise InvalidField(field, exc.message, code=exc.code, reason=exc.reason, **where) from None


def customer_factors(industry: str, factors: dict[str, Any]) -> CustomerFactors:
    try:
        return CustomerFactors.model_validate({**factors, "industry": industry})
    except ValueError as exc:  # pydantic ValidationError: the API models check first, this is a backstop
        raise InvalidField("factors", str(exc)) from None


async def grade_factors(session: AsyncSession, customer_id: str, industry: str, factors: dict[str, Any],
                        tiering: TieringConfig) -> TierResult:
    """Grade one customer. By rank, it is placed among every other customer's score as last graded (the
    others keep their tiers until the next re-grading run: `regrade_all`)."""
    customer = customer_factors(industry, factors)
    rank = None
    if tiering.grading.method is GradingMethod.RANK:
        others = (await session.execute(
            select(customers.c.id, customers.c.tier_score).where(customers.c.id != customer_id))).all()
        rank = position_of(customer_id, score(customer, tiering)[0], [(r.id, r.tier_score) for r in others])
    return grade(customer, tiering, rank=rank)


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
    customer_id = new_id("cus")
    result = await grade_factors(session, customer_id, industry, factors, tiering)
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
        regraded = await grade_factors(session, customer_id, values.get("industry", row.industry), factors, tiering)
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


# ------------------------------------------------------------------ re-grading run

#: pg_advisory_xact_lock key of the re-grading run: one at a time
_REGRADE_LOCK = text("SELECT pg_advisory_xact_lock(7263, 1)")


@dataclass(frozen=True)
class TierChange:
    customer_id: str
    name: str
    account_manager_id: str
    old_tier: str
    new_tier: str
    score: float
    key: bool
    rank: int | None


@dataclass(frozen=True)
class Regrading:
    """What a re-grading run did (or, dry, would do)."""

    grading: Grading
    config_version: int
    dry_run: bool
    graded: int
    tiers: dict[str, int]  # customers per tier after the run
    changes: list[TierChange]
    skipped: list[str] = field(default_factory=list)  # customers whose stored factors do not grade
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


async def regrade_all(session: AsyncSession, *, tiering: TieringConfig, dry_run: bool = False,
                      grading: Grading | None = None) -> Regrading:
    """Grade every customer again with the current weights and grading (by rank: over all customers' scores);
    store what changed and emit `crm.customer.tier_changed` for each customer whose tier changed, in the
    caller's transaction. A dry run writes nothing and may try another grading (`grading`); a run that
    writes follows the configuration, so that a customer changed later is graded the same way."""
    if grading is not None and not dry_run:
        raise InvalidField("dry_run", "only a dry run may try another grading than the configured one; "
                                      "change crm/data/tiering.yaml (or TIERING_FILE) to apply it")
    how = grading if grading is not None else tiering.grading
    await session.execute(_REGRADE_LOCK)
    stmt = select(customers.c.id, customers.c.name, customers.c.industry, customers.c.tier_factors, customers.c.tier,
                  customers.c.tier_result, customers.c.tier_config_version, customers.c.account_manager_id)
    rows = {r.id: r for r in (await session.execute(stmt if dry_run else stmt.with_for_update())).all()}
    inputs: dict[str, CustomerFactors] = {}
    skipped: list[str] = []
    for cid, row in rows.items():
        try:
            inputs[cid] = CustomerFactors.model_validate({**(row.tier_factors or {}), "industry": row.industry})
        except ValueError:
            skipped.append(cid)
    results = grade_all(inputs, tiering, grading=how)
    now = datetime.now(UTC)
    changes: list[TierChange] = []
    tiers = {t.value: 0 for t in Tier}
    for cid, result in results.items():
        row = rows[cid]
        tiers[result.tier.value] += 1
        stored = result.model_dump(mode="json")
        if result.tier.value != row.tier:
            changes.append(TierChange(customer_id=cid, name=row.name, account_manager_id=row.account_manager_id,
                                      old_tier=row.tier, new_tier=result.tier.value, score=result.score,
                                      key=result.key, rank=result.rank))
        if dry_run or (stored == row.tier_result and row.tier_config_version == tiering.version):
            continue
        await session.execute(update(customers).where(customers.c.id == cid).values(
            tier=result.tier.value, key_customer=result.key, tier_score=result.score, tier_result=stored,
            tier_config_version=tiering.version, updated_at=now, version=customers.c.version + 1))
        if result.tier.value != row.tier:
            await _tier_event(session, customer_id=cid, old=row.tier, result=result,
                              account_manager_id=row.account_manager_id, at=now)
    for cid in skipped:
        tiers[rows[cid].tier] = tiers.get(rows[cid].tier, 0) + 1
    return Regrading(grading=how, config_version=tiering.version, dry_run=dry_run, graded=len(results),
                     tiers=tiers, changes=changes, skipped=sorted(skipped), at=now)
