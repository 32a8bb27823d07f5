"""Rank-based grading (根据排名细分 A/B/C, seed 001): the tier a score earns by its rank among all customers.

The customers are ordered best score first; ties go to the smaller customer id (ids are time-ordered:
the longer-standing customer first), so the order, hence every tier, is deterministic. The first
``round(n × A%)`` are A, the next up to ``round(n × (A% + B%))`` are B, the rest C (rounding half up;
``A%`` and ``B%`` are the configured shares). So each tier's count is within one customer of its exact
share (A's and A+B's within half a customer), and a better score never gets a worse tier.

Pure: callers give the scores; reading them is the use case's business.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from backbone.vocabulary import Tier

__all__ = ["RankPosition", "position_of", "rank_order", "rank_tiers", "tier_at", "tier_counts"]


@dataclass(frozen=True, slots=True)
class RankPosition:
    """Where a customer ranks: ``position`` (1 = best score) among ``total`` customers."""

    position: int
    total: int

    def __post_init__(self) -> None:
        if not 1 <= self.position <= self.total:
            raise ValueError(f"rank {self.position} is not within 1..{self.total}")


def _half_up(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))


def tier_counts(total: int, share_a: float, share_b: float) -> dict[Tier, int]:
    """How many of ``total`` customers each tier gets for the shares (percent) of A and B; C gets the rest."""
    if total < 0:
        raise ValueError("total must be >= 0")
    a_pct, b_pct = Fraction(str(share_a)), Fraction(str(share_b))
    if a_pct < 0 or b_pct < 0 or a_pct + b_pct > 100:
        raise ValueError(f"shares A {share_a:g}% and B {share_b:g}% must be >= 0 and add up to at most 100")
    a = _half_up(total * a_pct / 100)
    ab = _half_up(total * (a_pct + b_pct) / 100)
    return {Tier.A: a, Tier.B: ab - a, Tier.C: total - ab}


def tier_at(rank: RankPosition, share_a: float, share_b: float) -> Tier:
    """The tier of the customer at ``rank`` (its score tier: a key customer is A anyway)."""
    counts = tier_counts(rank.total, share_a, share_b)
    if rank.position <= counts[Tier.A]:
        return Tier.A
    if rank.position <= counts[Tier.A] + counts[Tier.B]:
        return Tier.B
    return Tier.C


def _key(item: tuple[str, float]) -> tuple[float, str]:
    customer_id, score = item
    return (-score, customer_id)


def rank_order(scores: Mapping[str, float] | Iterable[tuple[str, float]]) -> list[str]:
    """Customer ids, best score first; equal scores in ascending id order."""
    items = list(scores.items()) if isinstance(scores, Mapping) else list(scores)
    return [customer_id for customer_id, _ in sorted(items, key=_key)]


def rank_tiers(scores: Mapping[str, float], share_a: float, share_b: float) -> dict[str, tuple[RankPosition, Tier]]:
    """Every customer's rank and score tier, over all of ``scores`` (customer id → score)."""
    order = rank_order(scores)
    total = len(order)
    out: dict[str, tuple[RankPosition, Tier]] = {}
    for i, customer_id in enumerate(order, start=1):
        rank = RankPosition(i, total)
        out[customer_id] = (rank, tier_at(rank, share_a, share_b))
    return out


def position_of(customer_id: str, score: float, others: Iterable[tuple[str, float]]) -> RankPosition:
    """Where ``customer_id`` with ``score`` ranks among ``others`` (itself not among them) and itself."""
    me = _key((customer_id, score))
    ahead = total = 0
    for other in others:
        total += 1
        ahead += _key(other) < me
    return RankPosition(ahead + 1, total + 1)
