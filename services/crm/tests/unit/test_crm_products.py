from __future__ import annotations

from typing import Any

import pytest

from backbone.vocabulary import BusinessKind, ProductId
from crm.domain.config import InvalidConfiguration, read_data_file
from crm.domain.products import (
    DRAFT_2020_12,
    FieldError,
    InvalidAttributes,
    UnknownProduct,
    UnsupportedBusinessKind,
    attribute_errors,
    load_catalogue,
    parse_catalogue,
    validate_attributes,
)
from crm.domain.vocabulary import BearerMode, Platform

VALID: dict[str, dict[str, Any]] = {
    "vpmn": {"member_count": 120, "short_number_length": 4},
    "mobile_switchboard": {"main_number": "02262345678", "extension_count": 50},
    "group_sms": {"platform": "MAS", "sign": "天津移动", "monthly_volume": 20000},
    "industry_ota": {"app_id": "tj.bus-card_1", "sim_count": 500},
    "m2m": {"sim_count": 1000, "apn": "cmiot.tj"},
    "mobile_mailbox": {"platform": "ADC", "mailbox_count": 200},
    "dedicated_line_data": {
        "bandwidth_mbps": 100,
        "a_end_address": "天津市和平区南京路1号",
        "z_end_address": "天津市河西区友谊路2号",
    },
    "dedicated_line_internet": {
        "bandwidth_mbps": 1000,
        "a_end_address": "天津市南开区鞍山西道3号",
        "ip_count": 8,
    },
}

# (attributes, expected field errors)
INVALID: dict[str, tuple[dict[str, Any], set[tuple[str, str]]]] = {
    "vpmn": (
        {"member_count": 1, "short_number_length": 9},
        {("member_count", "must be >= 2"), ("short_number_length", "must be one of: 3, 4, 5, 6")},
    ),
    "mobile_switchboard": (
        {"main_number": "12345", "extension_count": 0},
        {("main_number", "has an invalid format"), ("extension_count", "must be >= 1")},
    ),
    "group_sms": (
        {"platform": "SMPP", "monthly_volume": "lots"},
        {
            ("platform", "must be one of: MAS, ADC"),
            ("sign", "is required"),
            ("monthly_volume", "must be of type integer"),
        },
    ),
    "industry_ota": ({"app_id": "", "sim_count": 5}, {("app_id", "has an invalid format")}),
    "m2m": (
        {"sim_count": 10, "apn": "bad apn!"},
        {("apn", "has an invalid format")},
    ),
    "mobile_mailbox": (
        {"mailbox_count": 100001},
        {("platform", "is required"), ("mailbox_count", "must be <= 100000")},
    ),
    "dedicated_line_data": (
        {"bandwidth_mbps": 3, "a_end_address": "天津市和平区南京路1号", "ip_count": 4},
        {
            (
                "bandwidth_mbps",
                "must be one of: "
                + ", ".join(
                    str(b)
                    for b in [2, 4, 6, 8, 10, 20, 30, 50, 100, 155, 200, 300, 500, 622, 1000, 2000, 2500, 5000, 10000]
                ),
            ),
            ("z_end_address", "is required"),
            ("ip_count", "is not allowed"),
        },
    ),
    "dedicated_line_internet": (
        {"bandwidth_mbps": 100, "a_end_address": "", "z_end_address": "y", "ip_count": 0},
        {
            ("a_end_address", "must not be empty"),
            ("z_end_address", "is not allowed"),
            ("ip_count", "must be >= 1"),
        },
    ),
}


def test_catalogue_has_every_product_id() -> None:
    catalogue = load_catalogue()
    assert [p.id for p in catalogue.products] == list(ProductId)
    assert set(VALID) == set(INVALID) == {p.value for p in ProductId}


def test_offerings_split_multi_platform_products() -> None:
    offerings = load_catalogue().offerings()
    assert (ProductId.GROUP_SMS, Platform.MAS) in offerings
    assert (ProductId.GROUP_SMS, Platform.ADC) in offerings
    assert (ProductId.MOBILE_MAILBOX, Platform.ADC) in offerings
    assert (ProductId.VPMN, None) in offerings
    assert len(offerings) == 10


def test_products_have_names_bearer_modes_and_valid_schemas() -> None:
    catalogue = load_catalogue()
    bearer = {p.id: p.bearer_mode for p in catalogue.products}
    assert bearer[ProductId.VPMN] is BearerMode.VOICE
    assert bearer[ProductId.GROUP_SMS] is BearerMode.SMS
    assert bearer[ProductId.M2M] is BearerMode.DATA
    assert bearer[ProductId.DEDICATED_LINE_INTERNET] is BearerMode.ACCESS
    assert set(bearer.values()) == set(BearerMode)
    for p in catalogue.products:
        assert p.name.en and p.name.zh
        assert p.attributes_schema["$schema"] == DRAFT_2020_12
        assert set(p.business_kinds) == set(BusinessKind)


@pytest.mark.parametrize("product", sorted(VALID))
def test_valid_attributes(product: str) -> None:
    validate_attributes(product, VALID[product])
    assert attribute_errors(product, VALID[product]) == []


@pytest.mark.parametrize("product", sorted(INVALID))
def test_invalid_attributes_list_every_field(product: str) -> None:
    attributes, expected = INVALID[product]
    with pytest.raises(InvalidAttributes) as info:
        validate_attributes(product, attributes)
    got = {(e.field, e.message) for e in info.value.field_errors}
    assert got == expected
    assert info.value.product_id == product


@pytest.mark.parametrize("platform", ["MAS", "ADC"])
@pytest.mark.parametrize("product", ["group_sms", "mobile_mailbox"])
def test_platform_attribute(product: str, platform: str) -> None:
    attributes = dict(VALID[product], platform=platform)
    validate_attributes(product, attributes)


def test_change_needs_at_least_one_attribute_but_nothing_required() -> None:
    validate_attributes("dedicated_line_data", {"bandwidth_mbps": 200}, BusinessKind.CHANGE)
    with pytest.raises(InvalidAttributes) as info:
        validate_attributes("dedicated_line_data", {}, "change")
    assert info.value.field_errors == [FieldError(field="", message="at least 1 attribute(s) must be given")]


def test_cancellation_accepts_empty_attributes_but_still_checks_values() -> None:
    validate_attributes("vpmn", {}, BusinessKind.CANCELLATION)
    with pytest.raises(InvalidAttributes):
        validate_attributes("vpmn", {"member_count": 1}, BusinessKind.CANCELLATION)


def test_attributes_must_be_an_object() -> None:
    assert attribute_errors("vpmn", ["x"]) == [FieldError(field="", message="must be of type object")]


def test_booleans_are_not_integers() -> None:
    errors = attribute_errors("vpmn", {"member_count": True})
    assert errors == [FieldError(field="member_count", message="must be of type integer")]


def test_unknown_product_and_kind() -> None:
    with pytest.raises(UnknownProduct):
        validate_attributes("iptv", {})
    with pytest.raises(UnsupportedBusinessKind):
        validate_attributes("vpmn", {"member_count": 5}, "transfer")


def test_unsupported_kind_from_data() -> None:
    data = read_data_file("products.yaml")
    data["products"][0]["business_kinds"] = ["opening"]
    data["products"][0]["kind_overrides"] = {}
    catalogue = parse_catalogue(data)
    with pytest.raises(UnsupportedBusinessKind):
        validate_attributes("vpmn", {}, "cancellation", catalogue)


def test_message_is_readable_for_problem_json() -> None:
    with pytest.raises(InvalidAttributes) as info:
        validate_attributes("m2m", {"sim_count": 0})
    assert "apn: is required" in info.value.message
    assert [e.model_dump() for e in info.value.field_errors] == [
        {"field": "apn", "message": "is required"},
        {"field": "sim_count", "message": "must be >= 1"},
    ]


def _mutate(data: dict[str, Any], product: str, key: str, value: Any) -> dict[str, Any]:
    for p in data["products"]:
        if p["id"] == product:
            p["schema"][key] = value
    return data


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("type", "objekt", "invalid JSON Schema"),
        ("required", "member_count", "invalid JSON Schema"),
        ("$schema", "http://json-schema.org/draft-07/schema#", "2020-12"),
        ("type", "array", "type object"),
    ],
)
def test_invalid_schemas_are_rejected_at_load(key: str, value: Any, match: str) -> None:
    data = _mutate(read_data_file("products.yaml"), "vpmn", key, value)
    with pytest.raises(InvalidConfiguration, match=match):
        parse_catalogue(data)


def test_missing_or_duplicate_products_are_rejected() -> None:
    data = read_data_file("products.yaml")
    data["products"] = data["products"][1:]
    with pytest.raises(InvalidConfiguration, match="missing products: vpmn"):
        parse_catalogue(data)
    data = read_data_file("products.yaml")
    data["products"].append(data["products"][0])
    with pytest.raises(InvalidConfiguration, match="duplicate"):
        parse_catalogue(data)


def test_product_names_are_the_suites_labels_not_the_files() -> None:
    vpmn = load_catalogue().get("vpmn")
    assert (vpmn.name.zh, vpmn.name.en) == ("集团V网(VPMN)", "VPMN")
    data = read_data_file("products.yaml")
    data["products"][0]["name"] = {"en": "VPMN", "zh": "V网"}
    with pytest.raises(InvalidConfiguration, match=r"names come from shared/backbone/labels\.yaml"):
        parse_catalogue(data)
