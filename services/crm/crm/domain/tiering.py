"""Customer tiering (集团客户分级): A/B/C from weighted factors, with the reasons shown.

The weights, normalisations and the grading are data (``crm/data/tiering.yaml``), validated
with pydantic when loaded. ``grade`` returns every factor's contribution so the API can show
why a customer got its tier. Customers of a key industry (party/government, military,
finance) are "key" and tier A whatever their score.

The score becomes a tier by one of two methods (``grading.method``):

- ``thresholds``: minimum scores (A >= 70, B >= 40, else C);
- ``rank``: the score's rank among all customers (seed 001: 根据排名细分A/B/C类), the best
  ``rank_shares.A`` percent A, the next ``rank_shares.B`` percent B, the rest C
  (``crm.domain.ranking``; the caller says where the customer ranks).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import ConfigDict, Field, ValidationError, model_validator

from backbone.shapes import FrozenClosedModel, FrozenModel
from backbone.vocabulary import Tier
from crm.domain.config import InvalidConfiguration, parse_text, read_data_file
from crm.domain.ranking import RankPosition, rank_order, rank_tiers, tier_at
from crm.domain.vocabulary import Industry, UnifiedPayment


class Factor(StrEnum):
    EMPLOYEES = "employees"
    HANDSET_SHARE = "handset_share"
    INFORMATIZATION_LEVEL = "informatization_level"
    UNIFIED_PAYMENT = "unified_payment"
    INFLUENCE = "influence"


class LinearNormalization(FrozenClosedModel):
    """``(value - min) / (max - min)``, clamped to 0..1."""

    kind: Literal["linear"]
    min: float
    max: float

    @model_validator(mode="after")
    def _range(self) -> Self:
        if not self.max > self.min:
            raise ValueError("max must be greater than min")
        return self

    def apply(self, value: float) -> float:
        return _clamp((value - self.min) / (self.max - self.min))


class PiecewiseLinearNormalization(FrozenClosedModel):
    """Linear interpolation between ``[x, y]`` points; flat before the first and after the last."""

    kind: Literal["piecewise_linear"]
    points: list[tuple[float, Annotated[float, Field(ge=0, le=1)]]] = Field(min_length=2)

    @model_validator(mode="after")
    def _increasing(self) -> Self:
        xs = [x for x, _ in self.points]
        if any(b <= a for a, b in itertools.pairwise(xs)):
            raise ValueError("points must have strictly increasing x")
        return self

    def apply(self, value: float) -> float:
        xs = [x for x, _ in self.points]
        if value <= xs[0]:
            return self.points[0][1]
        if value >= xs[-1]:
            return self.points[-1][1]
        i = bisect.bisect_right(xs, value)
        (x0, y0), (x1, y1) = self.points[i - 1], self.points[i]
        return _clamp(y0 + (y1 - y0) * (value - x0) / (x1 - x0))


class CategoricalNormalization(FrozenClosedModel):
    """A fixed 0..1 value per category."""

    kind: Literal["categorical"]
    values: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(min_length=1)

    def apply(self, value: str) -> float:
        return self.values[value]


Normalization = Annotated[
    LinearNormalization | PiecewiseLinearNormalization | CategoricalNormalization,
    Field(discriminator="kind"),
]


class FactorWeight(FrozenClosedModel):
    weight: float = Field(ge=0)
    description: str = ""
    normalization: Normalization


class Thresholds(FrozenClosedModel):
    """Minimum score of tier A and of tier B; anything below B is C."""

    model_config = ConfigDict(populate_by_name=True)
    a: float = Field(alias="A", gt=0, le=100)
    b: float = Field(alias="B", gt=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.a > self.b:
            raise ValueError("threshold A must be greater than threshold B")
        return self


class GradingMethod(StrEnum):
    THRESHOLDS = "thresholds"
    RANK = "rank"


class RankShares(FrozenClosedModel):
    """Percent of all customers graded A, and B (the next ones); C gets the rest."""

    model_config = ConfigDict(populate_by_name=True)
    a: float = Field(alias="A", ge=0, le=100)
    b: float = Field(alias="B", ge=0, le=100)

    @model_validator(mode="after")
    def _at_most_all(self) -> Self:
        if self.a + self.b > 100:
            raise ValueError(f"rank shares A {self.a:g}% and B {self.b:g}% add up to more than 100%")
        return self


class Grading(FrozenClosedModel):
    """How a score becomes a tier: by the thresholds, or by rank among all customers with these shares."""

    method: GradingMethod = GradingMethod.THRESHOLDS
    rank_shares: RankShares = RankShares(a=10, b=30)


_NUMERIC = frozenset({Factor.EMPLOYEES, Factor.HANDSET_SHARE, Factor.INFORMATIZATION_LEVEL, Factor.INFLUENCE})


class TieringConfig(FrozenClosedModel):
    """The content of ``tiering.yaml``."""

    version: int = Field(ge=1)
    factors: dict[Factor, FactorWeight]
    thresholds: Thresholds
    grading: Grading = Grading()
    key_industries: frozenset[Industry]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        missing = set(Factor) - set(self.factors)
        if missing:
            raise ValueError(f"missing factors: {', '.join(sorted(missing))}")
        total = sum(f.weight for f in self.factors.values())
        if not math.isclose(total, 100.0, abs_tol=1e-9):
            raise ValueError(f"factor weights must add up to 100, they add up to {total:g}")
        for factor in _NUMERIC:
            if isinstance(self.factors[factor].normalization, CategoricalNormalization):
                raise ValueError(f"factor {factor} is numeric: categorical normalization not allowed")
        payment = self.factors[Factor.UNIFIED_PAYMENT].normalization
        if not isinstance(payment, CategoricalNormalization):
            raise ValueError("factor unified_payment needs a categorical normalization")
        if set(payment.values) != {p.value for p in UnifiedPayment}:
            raise ValueError("unified_payment values must be exactly: " + ", ".join(p.value for p in UnifiedPayment))
        return self


class CustomerFactors(FrozenClosedModel):
    """What tiering needs to know about a customer."""

    employees: int = Field(ge=0, description="number of employees")
    handset_share: float = Field(ge=0, le=1, description="operator's share of staff handsets")
    informatization_level: int = Field(ge=1, le=5)
    unified_payment: UnifiedPayment
    influence: int = Field(ge=1, le=5)
    industry: Industry


class FactorContribution(FrozenModel):
    """One line of the explanation: ``points = weight x normalized``."""

    factor: Factor
    raw: int | float | str
    normalized: float
    weight: float
    points: float


class TierResult(FrozenModel):
    tier: Tier
    score: float = Field(description="0..100, the sum of the contributions' (rounded) points")
    key: bool
    forced: bool = Field(description="tier set by a key industry, not by the score")
    score_tier: Tier = Field(description="tier the score alone would give")
    contributions: list[FactorContribution]
    explanation: str
    method: GradingMethod = Field(default=GradingMethod.THRESHOLDS, description="how the score became a tier")
    rank: int | None = Field(default=None, description="rank grading: the score's rank, 1 = best")
    ranked_of: int | None = Field(default=None, description="rank grading: among how many customers")


def _clamp(x: float) -> float:
    return min(1.0, max(0.0, x))


def parse_tiering_config(data: Mapping[str, Any]) -> TieringConfig:
    try:
        return TieringConfig.model_validate(data)
    except ValidationError as exc:
        raise InvalidConfiguration(f"invalid tiering configuration: {exc}") from exc


@lru_cache(maxsize=1)
def load_tiering_config() -> TieringConfig:
    """The packaged ``crm/data/tiering.yaml``, validated (cached)."""
    data = read_data_file("tiering.yaml")
    if not isinstance(data, Mapping):
        raise InvalidConfiguration("tiering.yaml must hold a mapping")
    return parse_tiering_config(data)


def tiering_config_from(path: str | None) -> TieringConfig:
    """The tiering configuration of a YAML file (``TIERING_FILE``), or the packaged one without a path."""
    if path is None:
        return load_tiering_config()
    try:
        data = parse_text(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidConfiguration(f"cannot read the tiering file {path}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise InvalidConfiguration(f"{path} must hold a mapping")
    return parse_tiering_config(data)


def tier_for_score(score: float, thresholds: Thresholds) -> Tier:
    if score >= thresholds.a:
        return Tier.A
    if score >= thresholds.b:
        return Tier.B
    return Tier.C


def score(customer: CustomerFactors, weights: TieringConfig | None = None) -> tuple[float, list[FactorContribution]]:
    """The customer's score 0..100 and every factor's contribution to it."""
    config = weights if weights is not None else load_tiering_config()
    contributions: list[FactorContribution] = []
    total = 0.0
    for factor in Factor:
        fw = config.factors[factor]
        raw: int | float | str = getattr(customer, factor.value)
        norm = fw.normalization
        if isinstance(norm, CategoricalNormalization):
            normalized = norm.apply(str(raw))
        else:
            assert not isinstance(raw, str)
            normalized = norm.apply(float(raw))
        points = round(fw.weight * normalized, 2)
        total += points
        contributions.append(
            FactorContribution(
                factor=factor,
                raw=raw.value if isinstance(raw, StrEnum) else raw,
                normalized=round(normalized, 4),
                weight=fw.weight,
                points=points,
            )
        )
    return round(total, 2), contributions


def grade(customer: CustomerFactors, weights: TieringConfig | None = None, *, rank: RankPosition | None = None,
          grading: Grading | None = None) -> TierResult:
    """Grade a customer; ``weights`` defaults to the packaged configuration, ``grading`` to its grading.

    Rank grading needs ``rank``: where the customer's score ranks among all customers (itself included).
    """
    config = weights if weights is not None else load_tiering_config()
    how = grading if grading is not None else config.grading
    points, contributions = score(customer, config)
    if how.method is GradingMethod.RANK:
        if rank is None:
            raise ValueError("rank grading needs the customer's rank among all customers")
        shares = how.rank_shares
        score_tier = tier_at(rank, shares.a, shares.b)
        rule = (f"rank {rank.position} of {rank.total} -> tier {score_tier.value} "
                f"(best {shares.a:g}% A, next {shares.b:g}% B)")
    else:
        score_tier = tier_for_score(points, config.thresholds)
        rule = f"tier {score_tier.value} (A >= {config.thresholds.a:g}, B >= {config.thresholds.b:g})"
    key = customer.industry in config.key_industries
    tier = Tier.A if key else score_tier
    if key:
        explanation = (
            f"industry {customer.industry.value} is a key industry: tier A "
            f"(score {points:g} alone would give {score_tier.value})"
        )
    else:
        explanation = f"score {points:g} -> {rule}"
    ranked = how.method is GradingMethod.RANK and rank is not None
    return TierResult(
        tier=tier,
        score=points,
        key=key,
        forced=key and score_tier is not Tier.A,
        score_tier=score_tier,
        contributions=contributions,
        explanation=explanation,
        method=how.method,
        rank=rank.position if ranked and rank else None,
        ranked_of=rank.total if ranked and rank else None,
    )


def grade_all(customers: Mapping[str, CustomerFactors], weights: TieringConfig | None = None, *,
              grading: Grading | None = None) -> dict[str, TierResult]:
    """Grade every customer of ``customers`` (id → factors) at once: by rank, each ranks among all of them."""
    config = weights if weights is not None else load_tiering_config()
    how = grading if grading is not None else config.grading
    if how.method is not GradingMethod.RANK:
        return {cid: grade(f, config, grading=how) for cid, f in customers.items()}
    scores = {cid: score(f, config)[0] for cid, f in customers.items()}
    ranks = rank_tiers(scores, how.rank_shares.a, how.rank_shares.b)
    return {cid: grade(customers[cid], config, rank=ranks[cid][0], grading=how) for cid in rank_order(scores)}
