from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from backbone.vocabulary import Tier
from crm.domain.config import InvalidConfiguration, read_data_file
from crm.domain.tiering import (
    CustomerFactors,
    Factor,
    TieringConfig,
    grade,
    load_tiering_config,
    parse_tiering_config,
)
from crm.domain.vocabulary import Industry, UnifiedPayment


def factors(**overrides: Any) -> CustomerFactors:
    base: dict[str, Any] = {
        "employees": 300,
        "handset_share": 0.6,
        "informatization_level": 3,
        "unified_payment": "partial",
        "influence": 2,
        "industry": "manufacturing",
    }
    base.update(overrides)
    return CustomerFactors.model_validate(base)


def test_packaged_config_loads() -> None:
    config = load_tiering_config()
    assert isinstance(config, TieringConfig)
    assert set(config.factors) == set(Factor)
    assert config.key_industries == {Industry.PARTY_GOVERNMENT, Industry.MILITARY, Industry.FINANCE}


def test_mid_sized_customer_is_b_with_explained_contributions() -> None:
    result = grade(factors())
    assert result.tier is Tier.B
    assert not result.key and not result.forced
    by_factor = {c.factor: c for c in result.contributions}
    assert [c.factor for c in result.contributions] == list(Factor)
    # employees 300: between (200, 0.45) and (1000, 0.75) -> 0.4875; weight 30
    assert by_factor[Factor.EMPLOYEES].raw == 300
    assert by_factor[Factor.EMPLOYEES].normalized == pytest.approx(0.4875)
    assert by_factor[Factor.EMPLOYEES].points == pytest.approx(14.62, abs=0.01)
    assert by_factor[Factor.HANDSET_SHARE].points == pytest.approx(15.0)
    assert by_factor[Factor.INFORMATIZATION_LEVEL].normalized == pytest.approx(0.5)
    assert by_factor[Factor.UNIFIED_PAYMENT].raw == "partial"
    assert by_factor[Factor.INFLUENCE].normalized == pytest.approx(0.25)
    assert result.score == pytest.approx(sum(c.points for c in result.contributions))
    assert "tier B" in result.explanation


def test_large_customer_is_a() -> None:
    result = grade(
        factors(employees=8000, handset_share=0.9, informatization_level=5, unified_payment="full", influence=5)
    )
    assert result.tier is Tier.A
    assert result.score == pytest.approx(97.5)


def test_small_customer_is_c() -> None:
    result = grade(
        factors(employees=10, handset_share=0.1, informatization_level=1, unified_payment="none", influence=1)
    )
    assert result.tier is Tier.C
    assert result.score < 40


def test_maximum_and_minimum_scores() -> None:
    top = grade(factors(employees=10**6, handset_share=1, informatization_level=5, unified_payment="full", influence=5))
    bottom = grade(factors(employees=0, handset_share=0, informatization_level=1, unified_payment="none", influence=1))
    assert top.score == pytest.approx(100)
    assert bottom.score == pytest.approx(0)


@pytest.mark.parametrize("industry", ["party_government", "military", "finance"])
def test_key_industries_are_forced_to_a(industry: str) -> None:
    result = grade(
        factors(
            employees=5,
            handset_share=0,
            informatization_level=1,
            unified_payment="none",
            influence=1,
            industry=industry,
        )
    )
    assert result.tier is Tier.A
    assert result.key and result.forced
    assert result.score_tier is Tier.C
    assert "key industry" in result.explanation


def test_key_customer_with_a_score_is_key_but_not_forced() -> None:
    result = grade(
        factors(
            employees=8000,
            handset_share=1,
            informatization_level=5,
            unified_payment="full",
            influence=5,
            industry="finance",
        )
    )
    assert result.tier is Tier.A and result.key and not result.forced


def test_threshold_boundary_is_inclusive() -> None:
    data = read_data_file("tiering.yaml")
    data["thresholds"] = {"A": 97.5, "B": 40}
    config = parse_tiering_config(data)
    at = grade(
        factors(employees=8000, handset_share=0.9, informatization_level=5, unified_payment="full", influence=5), config
    )
    assert at.tier is Tier.A


def test_custom_weights_change_the_grade() -> None:
    data = read_data_file("tiering.yaml")
    for name in data["factors"]:
        data["factors"][name]["weight"] = 0
    data["factors"]["handset_share"]["weight"] = 100
    config = parse_tiering_config(data)
    result = grade(factors(handset_share=0.75), config)
    assert result.score == pytest.approx(75) and result.tier is Tier.A


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        (("factors", "employees", "weight"), 31, "add up to 100"),
        (("thresholds", "A"), 30, "greater than threshold B"),
        (("factors", "unified_payment", "normalization", "values"), {"none": 0, "full": 1}, "unified_payment values"),
        (("factors", "handset_share", "normalization"), {"kind": "linear", "min": 1, "max": 1}, "max must be greater"),
        (
            ("factors", "employees", "normalization"),
            {"kind": "piecewise_linear", "points": [[0, 0], [0, 1]]},
            "strictly increasing",
        ),
        (("factors", "employees", "normalization"), {"kind": "categorical", "values": {"a": 1}}, "numeric"),
        (("key_industries",), ["banking"], "key_industries"),
    ],
)
def test_invalid_configuration_is_rejected(path: tuple[str, ...], value: Any, match: str) -> None:
    data = read_data_file("tiering.yaml")
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(InvalidConfiguration, match=match):
        parse_tiering_config(data)


def test_missing_factor_is_rejected() -> None:
    data = read_data_file("tiering.yaml")
    del data["factors"]["influence"]
    with pytest.raises(InvalidConfiguration, match="missing factors: influence"):
        parse_tiering_config(data)


@pytest.mark.parametrize(
    "overrides",
    [
        {"employees": -1},
        {"handset_share": 1.2},
        {"informatization_level": 6},
        {"influence": 0},
        {"unified_payment": "most"},
        {"industry": "banking"},
    ],
)
def test_customer_factors_are_validated(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        factors(**overrides)


def test_unified_payment_levels_map_to_points() -> None:
    points = {
        p: next(c.points for c in grade(factors(unified_payment=p)).contributions if c.factor is Factor.UNIFIED_PAYMENT)
        for p in UnifiedPayment
    }
    assert points == {UnifiedPayment.NONE: 0, UnifiedPayment.PARTIAL: 7.5, UnifiedPayment.FULL: 15}
