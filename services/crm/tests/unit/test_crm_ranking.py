"""Rank-based grading (根据排名细分 A/B/C): the pure ranking, with hypothesis properties, and rank grading of
customers (shares respected within rounding, ties broken deterministically, monotone in the score)."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backbone.vocabulary import Tier
from crm.domain.config import InvalidConfiguration, read_data_file
from crm.domain.ranking import RankPosition, position_of, rank_order, rank_tiers, tier_at, tier_counts
from crm.domain.tiering import (
    CustomerFactors,
    Grading,
    GradingMethod,
    RankShares,
    grade,
    grade_all,
    load_tiering_config,
    parse_tiering_config,
)

ORDER = {Tier.A: 0, Tier.B: 1, Tier.C: 2}

shares = st.tuples(st.floats(0, 100), st.floats(0, 100)).filter(lambda ab: ab[0] + ab[1] <= 100).map(
    lambda ab: (round(ab[0], 2), round(ab[1], 2)))
# Scores as the CRM stores them (two decimals), drawn from a few values so that ties are common.
scores = st.dictionaries(
    st.text("abcdef0123456789", min_size=1, max_size=6).map(lambda s: f"cus_{s}"),
    st.one_of(st.sampled_from([0.0, 12.5, 40.0, 55.25, 70.0, 100.0]), st.floats(0, 100).map(lambda x: round(x, 2))),
    max_size=60,
)


# ------------------------------------------------------------------ examples

def test_top_ten_percent_a_next_thirty_b_rest_c() -> None:
    ranked = rank_tiers({f"cus_{i:02d}": float(100 - i) for i in range(20)}, 10, 30)
    tiers = [ranked[f"cus_{i:02d}"][1] for i in range(20)]
    assert tiers == [Tier.A] * 2 + [Tier.B] * 6 + [Tier.C] * 12
    assert ranked["cus_00"][0] == RankPosition(1, 20) and ranked["cus_19"][0] == RankPosition(20, 20)


def test_counts_round_half_up() -> None:
    assert tier_counts(5, 10, 30) == {Tier.A: 1, Tier.B: 1, Tier.C: 3}  # 0.5 → 1, 2.0 → 2
    assert tier_counts(1, 10, 30) == {Tier.A: 0, Tier.B: 0, Tier.C: 1}
    assert tier_counts(0, 10, 30) == {Tier.A: 0, Tier.B: 0, Tier.C: 0}
    assert tier_counts(3, 33.33, 33.33) == {Tier.A: 1, Tier.B: 1, Tier.C: 1}
    with pytest.raises(ValueError, match="at most 100"):
        tier_counts(10, 60, 50)


def test_ties_go_to_the_smaller_id() -> None:
    assert rank_order({"cus_b": 50.0, "cus_a": 50.0, "cus_c": 80.0}) == ["cus_c", "cus_a", "cus_b"]
    assert position_of("cus_b", 50.0, [("cus_a", 50.0), ("cus_c", 80.0)]) == RankPosition(3, 3)
    assert position_of("cus_0", 50.0, [("cus_a", 50.0), ("cus_c", 80.0)]) == RankPosition(2, 3)
    assert position_of("cus_new", 10.0, []) == RankPosition(1, 1)


def test_a_rank_outside_the_ranking_is_refused() -> None:
    with pytest.raises(ValueError):
        RankPosition(0, 3)
    with pytest.raises(ValueError):
        RankPosition(4, 3)


# ------------------------------------------------------------------ properties

@given(st.integers(0, 5000), shares)
def test_shares_are_respected_within_rounding(total: int, ab: tuple[float, float]) -> None:
    a, b = ab
    counts = tier_counts(total, a, b)
    assert sum(counts.values()) == total and min(counts.values()) >= 0
    assert abs(counts[Tier.A] - total * a / 100) <= 0.5 + 1e-9
    assert abs(counts[Tier.A] + counts[Tier.B] - total * (a + b) / 100) <= 0.5 + 1e-9
    assert abs(counts[Tier.B] - total * b / 100) <= 1 + 1e-9
    assert abs(counts[Tier.C] - total * (100 - a - b) / 100) <= 0.5 + 1e-9


@given(scores, shares)
def test_every_customer_gets_the_tier_of_its_rank_and_the_counts_match(by_id: dict[str, float],
                                                                        ab: tuple[float, float]) -> None:
    ranked = rank_tiers(by_id, *ab)
    assert set(ranked) == set(by_id)
    assert sorted(r.position for r, _ in ranked.values()) == list(range(1, len(by_id) + 1))
    got = {t: sum(1 for _, tier in ranked.values() if tier is t) for t in Tier}
    assert got == tier_counts(len(by_id), *ab)


@given(scores, shares)
def test_monotone_in_the_score(by_id: dict[str, float], ab: tuple[float, float]) -> None:
    ranked = rank_tiers(by_id, *ab)
    for x, sx in by_id.items():
        for y, sy in by_id.items():
            if sx > sy:
                assert ORDER[ranked[x][1]] <= ORDER[ranked[y][1]], (x, sx, y, sy)
                assert ranked[x][0].position < ranked[y][0].position


@given(scores, shares, st.randoms(use_true_random=False))
def test_ties_are_broken_deterministically(by_id: dict[str, float], ab: tuple[float, float],
                                           rnd: random.Random) -> None:
    items = list(by_id.items())
    rnd.shuffle(items)
    assert rank_tiers(dict(items), *ab) == rank_tiers(by_id, *ab)  # the input's order does not matter
    order = rank_order(by_id)
    for earlier, later in itertools.pairwise(order):  # best score first, equal scores by ascending id
        assert by_id[earlier] > by_id[later] or (by_id[earlier] == by_id[later] and earlier < later)


@given(scores.filter(bool), shares)
def test_one_customer_placed_among_the_others_ranks_as_in_the_whole_ranking(by_id: dict[str, float],
                                                                            ab: tuple[float, float]) -> None:
    ranked = rank_tiers(by_id, *ab)
    for cid, s in by_id.items():
        rank = position_of(cid, s, [(o, so) for o, so in by_id.items() if o != cid])
        assert rank == ranked[cid][0] and tier_at(rank, *ab) is ranked[cid][1]


# ------------------------------------------------------------------ rank grading of customers

def customer(score_hint: int, industry: str = "manufacturing") -> CustomerFactors:
    """A customer whose score grows with ``score_hint`` (0..40)."""
    return CustomerFactors.model_validate({
        "employees": score_hint * 100, "handset_share": min(1.0, score_hint / 40), "informatization_level": 3,
        "unified_payment": "partial", "influence": 3, "industry": industry})


RANK = Grading(method=GradingMethod.RANK, rank_shares=RankShares(a=10, b=30))


def test_rank_grading_grades_by_rank_and_explains_it() -> None:
    results = grade_all({f"cus_{i:02d}": customer(i) for i in range(20)}, grading=RANK)
    assert [results[f"cus_{i:02d}"].tier for i in range(19, -1, -1)] == [Tier.A] * 2 + [Tier.B] * 6 + [Tier.C] * 12
    top = results["cus_19"]
    assert (top.method, top.rank, top.ranked_of) == (GradingMethod.RANK, 1, 20)
    assert "rank 1 of 20 -> tier A (best 10% A, next 30% B)" in top.explanation


def test_key_customers_stay_a_and_keep_their_rank() -> None:
    results = grade_all({"cus_a": customer(1, "finance"), **{f"cus_{i:02d}": customer(i + 5) for i in range(9)}},
                        grading=RANK)
    bank = results["cus_a"]
    assert bank.tier is Tier.A and bank.forced and bank.score_tier is Tier.C and bank.rank == 10


def test_rank_grading_needs_the_rank() -> None:
    with pytest.raises(ValueError, match="needs the customer's rank"):
        grade(customer(3), grading=RANK)
    # the counts are the shares of the customers, rounded: 1 × 10% rounds to no A, 5 × 10% to one
    assert grade(customer(3), rank=RankPosition(1, 1), grading=RANK).tier is Tier.C
    assert grade(customer(3), rank=RankPosition(1, 5), grading=RANK).tier is Tier.A
    assert grade(customer(3), rank=RankPosition(2, 5), grading=RANK).tier is Tier.B


@given(st.dictionaries(st.integers(0, 40).map(lambda i: f"cus_{i:02d}"), st.integers(0, 40), max_size=40), shares)
def test_rank_grading_of_customers_respects_the_shares_and_the_scores(hints: dict[str, int],
                                                                      ab: tuple[float, float]) -> None:
    grading = Grading(method=GradingMethod.RANK, rank_shares=RankShares(a=ab[0], b=ab[1]))
    results = grade_all({cid: customer(h) for cid, h in hints.items()}, grading=grading)
    got = {t: sum(1 for r in results.values() if r.score_tier is t) for t in Tier}
    assert got == tier_counts(len(hints), *ab)
    for x in results.values():
        for y in results.values():
            if x.score > y.score:
                assert ORDER[x.tier] <= ORDER[y.tier]


def test_threshold_grading_stays_the_default() -> None:
    config = load_tiering_config()
    assert config.grading.method is GradingMethod.THRESHOLDS
    assert (config.grading.rank_shares.a, config.grading.rank_shares.b) == (10, 30)
    results = grade_all({"cus_1": customer(2), "cus_2": customer(30)})
    assert results["cus_1"].method is GradingMethod.THRESHOLDS and results["cus_1"].rank is None


@pytest.mark.parametrize(("grading", "match"), [
    ({"method": "lottery"}, "method"),
    ({"method": "rank", "rank_shares": {"A": 60, "B": 50}}, "more than 100"),
    ({"method": "rank", "rank_shares": {"A": -1, "B": 30}}, "rank_shares"),
])
def test_a_wrong_grading_is_refused_at_load(grading: dict[str, Any], match: str) -> None:
    data = read_data_file("tiering.yaml")
    data["grading"] = grading
    with pytest.raises(InvalidConfiguration, match=match):
        parse_tiering_config(data)
