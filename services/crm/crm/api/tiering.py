"""/api/v1/admin/tiering: the tiering configuration, and the re-grading run (by thresholds or by rank).

Rank grading (seed 001: 根据排名细分A/B/C类) grades by the score's rank among all customers: the best
`rank_shares.A` percent A, the next `rank_shares.B` percent B, the rest C. A customer registered or changed
is placed by rank at once; the others move only on a re-grading run, which grades everyone again with the
current weights and grading and emits `crm.customer.tier_changed` (topic crm.customers, through the outbox)
for each customer whose tier changed.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, select

from backbone.shapes import ClosedModel
from backbone.vocabulary import Tier
from crm import access
from crm.api.deps import ContextDep, IdempotencyDep, SessionDep, TieringAdminDep, TieringReaderDep
from crm.domain.tiering import Grading, GradingMethod, RankShares
from crm.models import customers
from crm.services import customers as service

router = APIRouter(prefix="/api/v1/admin/tiering", tags=["admin"])


class SharesIO(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    A: float = Field(ge=0, le=100, description="percent of all customers graded A (the best scores)")
    B: float = Field(ge=0, le=100, description="percent graded B (the next ones); C gets the rest")

    @model_validator(mode="after")
    def _at_most_all(self) -> SharesIO:
        if self.A + self.B > 100:
            raise ValueError(f"A {self.A:g}% and B {self.B:g}% add up to more than 100%")
        return self


class GradingOut(BaseModel):
    method: GradingMethod
    rank_shares: SharesIO
    thresholds: dict[str, float] = Field(description="minimum score of A and of B (method thresholds)")


class TieringOut(BaseModel):
    config_version: int
    grading: GradingOut
    weights: dict[str, float] = Field(description="factor → weight (they add up to 100)")
    key_industries: list[str] = Field(description="customers of these industries are A whatever their score")
    customers_per_tier: dict[str, int]


class RegradeIn(ClosedModel):
    dry_run: bool = Field(default=False, description="compute and answer what would change; write nothing")
    method: GradingMethod | None = Field(default=None, description="dry run only: try another method")
    rank_shares: SharesIO | None = Field(default=None, description="dry run only: try other shares")


class TierChangeOut(BaseModel):
    customer_id: str
    name: str
    account_manager_id: str
    old_tier: str
    new_tier: str
    score: float
    key: bool
    rank: int | None = Field(description="rank grading: the score's rank, 1 = best")


class RegradeOut(BaseModel):
    dry_run: bool
    grading: GradingOut
    config_version: int
    graded: int = Field(description="customers graded")
    customers_per_tier: dict[str, int] = Field(description="after the run")
    changed: list[TierChangeOut] = Field(description="customers whose tier changed (or would change)")
    skipped: list[str] = Field(description="customers whose stored factors cannot be graded (tier kept)")
    at: datetime


def _grading_out(grading: Grading, ctx: ContextDep) -> GradingOut:
    t = ctx.tiering.thresholds
    return GradingOut(method=grading.method, rank_shares=SharesIO(A=grading.rank_shares.a, B=grading.rank_shares.b),
                      thresholds={"A": t.a, "B": t.b})


@router.get("", response_model=TieringOut, summary="The tiering configuration and the customers per tier")
async def get_tiering(session: SessionDep, principal: TieringReaderDep, ctx: ContextDep) -> TieringOut:
    access.tiering_reader(principal)
    rows = (await session.execute(select(customers.c.tier, func.count()).group_by(customers.c.tier))).all()
    counts: dict[str, int] = {str(tier): int(n) for tier, n in rows}
    config = ctx.tiering
    return TieringOut(
        config_version=config.version, grading=_grading_out(config.grading, ctx),
        weights={f.value: w.weight for f, w in config.factors.items()},
        key_industries=sorted(i.value for i in config.key_industries),
        customers_per_tier={t.value: counts.get(t.value, 0) for t in Tier})


@router.post("/regrade", response_model=RegradeOut, summary=(
    "Re-grade every customer (thresholds, or rank among all customers' scores); emits "
    "crm.customer.tier_changed for each customer whose tier changed"), responses={
    422: {"description": "another method or shares without dry_run (they are tried, not applied)"}})
async def regrade(session: SessionDep, principal: TieringAdminDep, ctx: ContextDep, idem: IdempotencyDep,
                  body: RegradeIn | None = None) -> JSONResponse:
    """Grades every customer again with the configured weights and grading (crm/data/tiering.yaml or
    TIERING_FILE). By rank, each customer's score is ranked among all customers' scores (ties: the smaller,
    older, customer id first); the best `rank_shares.A` percent are A, the next `rank_shares.B` percent B, the
    rest C; key-industry customers stay A. Changed tiers are stored and each emits `crm.customer.tier_changed`
    through the outbox, in one transaction. `dry_run` answers the same report and writes nothing; with it,
    `method` and `rank_shares` try another grading (to choose shares before changing the configuration)."""
    body = body or RegradeIn()
    access.tiering_admin(principal)
    grading = None
    if body.method is not None or body.rank_shares is not None:
        base = ctx.tiering.grading
        shares = body.rank_shares
        grading = Grading(method=body.method or base.method,
                          rank_shares=RankShares(a=shares.A, b=shares.B) if shares else base.rank_shares)
    async with session.begin():
        if (replay := await idem.begin(session)) is not None:
            return replay
        run = await service.regrade_all(session, tiering=ctx.tiering, dry_run=body.dry_run, grading=grading)
        out = RegradeOut(
            dry_run=run.dry_run, grading=_grading_out(run.grading, ctx), config_version=run.config_version,
            graded=run.graded, customers_per_tier=run.tiers, skipped=run.skipped, at=run.at,
            changed=[TierChangeOut(**vars(c)) for c in run.changes])
        return await idem.finish(session, 200, out)
