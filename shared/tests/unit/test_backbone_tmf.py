"""TMF630 conventions (backbone.tmf): Error bodies, absent fields, fields= selection, merge patch."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from backbone.tmf import error_body, error_message, is_tmf_path, merge_patch, omit_absent, select_fields, tmf_status

RESOURCE = {"id": "1", "href": "/x/1", "@type": "ProductOrder", "state": "acknowledged", "description": "d",
            "productOrderItem": [{"id": "i1", "action": "add", "product": {"productSpecification": {"id": "p"}}}]}


def test_paths() -> None:
    assert is_tmf_path("/tmf-api/productOrderingManagement/v4/productOrder")
    assert not is_tmf_path("/api/v1/orders") and not is_tmf_path("/tmf-apis")


def test_error_body_names_the_field_first_and_422_is_400() -> None:
    body = error_body(422, "Invalid request", error_message(None, [{"field": "productOrderItem.0.action",
                                                                    "message": "bad"}]))
    assert body == {"code": "invalid_request", "reason": "Invalid request", "status": "400",
                    "message": "productOrderItem.0.action: bad",
                    "referenceError": "urn:groupsuite:tmf-error:invalid_request", "@type": "Error"}
    assert tmf_status(409) == 409
    assert error_body(409, "Conflict", code="illegal_transition")["code"] == "illegal_transition"
    assert "message" not in error_body(404)  # absent, not null


def test_omit_absent() -> None:
    assert omit_absent({"a": None, "b": [{"c": None, "d": 1}], "e": {"f": None}}) == {"b": [{"d": 1}], "e": {}}


def test_fields_selection() -> None:
    assert select_fields(RESOURCE, None) == RESOURCE
    assert select_fields(RESOURCE, "state") == {"id": "1", "href": "/x/1", "@type": "ProductOrder",
                                                "state": "acknowledged"}
    assert select_fields(RESOURCE, "productOrderItem.action,nothing")["productOrderItem"] == [{"action": "add"}]
    kept = select_fields(RESOURCE, "state", keep=("productOrderItem",))
    assert kept["productOrderItem"] == RESOURCE["productOrderItem"]
    assert select_fields(RESOURCE, "productOrderItem.product.productSpecification.id,productOrderItem")[
        "productOrderItem"] == RESOURCE["productOrderItem"]


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=3),
                           lambda inner: st.dictionaries(st.text(max_size=2), inner, max_size=3), max_leaves=8)


@given(json_values, json_values)
def test_merge_patch_rfc7386_properties(target: Any, patch: Any) -> None:
    merged = merge_patch(target, patch)
    if not isinstance(patch, dict):
        assert merged == patch
        return
    assert merge_patch(merged, patch) == merged  # applying a patch twice changes nothing more
    for key, value in patch.items():
        if value is None:
            assert key not in merged
        elif not isinstance(value, dict):
            assert merged[key] == value
