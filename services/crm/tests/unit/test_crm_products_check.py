"""The compiled attribute check (`crm.domain.products.compile_check`, jsonschema-rs) against jsonschema itself: it
never accepts what jsonschema refuses, and it accepts the valid attributes of every packaged product (the fast path
is taken)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from test_crm_products import VALID

from backbone.vocabulary import BusinessKind
from crm.domain.products import Product, attribute_errors, compile_check, load_catalogue

CASES = [(p, k) for p in load_catalogue() for k in p.business_kinds]


def _names(case: tuple[Product, BusinessKind]) -> str:
    return f"{case[0].id}.{case[1].value}"


def _scalars(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values near the schema's edges: its enums, bounds, lengths and the kinds jsonschema tells apart."""
    found: list[Any] = []
    for sub in [*schema.get("$defs", {}).values(), *schema.get("properties", {}).values()]:
        found.extend(sub.get("enum", []))
        for bound in ("minimum", "maximum"):
            if bound in sub:
                found.extend([sub[bound], sub[bound] - 1, sub[bound] + 1, float(sub[bound]), sub[bound] + 0.5])
        for length in ("minLength", "maxLength"):
            if length in sub:
                found.extend(["x" * sub[length], "x" * max(0, sub[length] - 1), "天" * (sub[length] + 1)])
    return st.one_of(
        st.sampled_from(found or [0]), st.integers(-5, 20_000), st.floats(allow_nan=True), st.booleans(), st.none(),
        st.text(max_size=12), st.sampled_from(["MAS", "ADC", "02262345678", "cmiot.tj", "tj.bus-card_1", ""]),
        st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )


@pytest.mark.parametrize("case", CASES, ids=_names)
def test_every_packaged_schema_compiles(case: tuple[Product, BusinessKind]) -> None:
    product, kind = case
    assert compile_check(product.schema_for(kind)) is not None


@pytest.mark.parametrize("product", sorted(VALID))
def test_valid_attributes_take_the_compiled_check(product: str) -> None:
    assert load_catalogue().get(product).accepts(BusinessKind.OPENING, VALID[product])


@pytest.mark.parametrize("case", CASES, ids=_names)
@given(data=st.data())
def test_never_accepts_what_jsonschema_refuses(case: tuple[Product, BusinessKind], data: st.DataObject) -> None:
    product, kind = case
    schema = product.schema_for(kind)
    names = [*schema.get("properties", {}), "extra"]
    base = VALID.get(product.id, {})
    instance = data.draw(st.one_of(
        st.dictionaries(st.sampled_from(names), _scalars(schema), max_size=len(names)),
        st.builds(lambda over, drop: {**{k: v for k, v in base.items() if k not in drop}, **over},
                  st.dictionaries(st.sampled_from(names), _scalars(schema), max_size=2),
                  st.sets(st.sampled_from(names), max_size=2)),
        _scalars(schema),
    ))
    valid = Draft202012Validator(schema).is_valid(instance)
    check = compile_check(schema)
    assert check is not None
    if check(instance):
        assert valid, instance
    # and the errors reported are jsonschema's, whichever way the check went
    assert (attribute_errors(product, instance, kind) == []) == valid


@pytest.mark.parametrize("schema", [
    {"type": "object", "not": {"required": ["a"]}},
    {"type": "number", "multipleOf": 0.01},  # jsonschema-rs takes 0.07, jsonschema does not
    {"type": "object", "properties": {"a": {"multipleOf": 0.1}}},
    {"type": "object", "$defs": {"d": {"anyOf": [{"type": "string"}]}}, "properties": {"a": {"$ref": "#/$defs/d"}}},
])
def test_keywords_outside_the_checked_ones_leave_it_to_jsonschema(schema: dict[str, Any]) -> None:
    assert compile_check(schema) is None


@pytest.mark.parametrize(("schema", "instances"), [
    ({"type": "object", "additionalProperties": {"type": "string"}}, [{}, {"a": "x"}, {"a": 1}]),
    ({"enum": [True, 1]}, [True, 1, 1.0, False, 0, "1"]),
    ({"type": "integer", "exclusiveMinimum": 1}, [1, 2, 1.5, 2.0, True, 10**30, -(10**30)]),
    ({"type": "string", "pattern": "^[0-9]{3}$", "maxLength": 3}, ["123", "12a", "1234", "天天天", 123]),
    ({"type": "number", "maximum": 5}, [5, 5.5, float("nan"), float("inf"), -(10**30), 10**30]),
])
def test_other_keywords_never_accepted_against_jsonschema(schema: dict[str, Any], instances: list[Any]) -> None:
    check = compile_check(schema)
    assert check is not None
    for instance in instances:
        if check(instance):
            assert Draft202012Validator(schema).is_valid(instance), instance
    # (it may refuse more: NaN under a maximum is valid for jsonschema; a refusal only costs jsonschema's look)


def test_a_schema_it_cannot_read_leaves_it_to_jsonschema() -> None:
    assert compile_check({"type": 12}) is None
