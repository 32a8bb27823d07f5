"""Product catalogue (as data) and validation of order-item attributes against JSON Schema.

``crm/data/products.yaml`` holds, per product: bearer mode, the business kinds it supports and a
JSON Schema (draft 2020-12) of its order-item attributes, with per-kind overrides of top-level
keywords (``required`` differs for a change or a cancellation) and ``x-fulfilment-required``, the
attributes an order may be captured without but fulfilment needs (`crm.domain.information`). Each
schema is checked against the draft 2020-12 meta-schema at load. A product's names (en, zh) are the
suite's labels of its id (``backbone.labels``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any, NamedTuple, Self

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.exceptions import ValidationError as SchemaValidationError
from pydantic import ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from backbone.labels import LabelCategory, labels
from backbone.shapes import FrozenClosedModel, FrozenModel
from backbone.vocabulary import BusinessKind, ProductId
from crm.domain.config import InvalidConfiguration, read_data_file
from crm.domain.errors import DomainError
from crm.domain.vocabulary import BearerMode, Platform

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
#: annotation keyword of a product's schema: attributes an order may be captured without but fulfilment needs
FULFILMENT_REQUIRED = "x-fulfilment-required"

#: products delivered on either platform (the ``platform`` attribute). Seed 001's "nine typical
#: group products" are VPMN, switchboard, group SMS (MAS, ADC), industry OTA, M2M, mobile mailbox
#: (MAS, ADC) and dedicated line; the catalogue splits the dedicated line into data and internet,
#: so it has 8 product ids and 10 (product, platform) offerings.
MULTI_PLATFORM_PRODUCTS = frozenset({ProductId.GROUP_SMS, ProductId.MOBILE_MAILBOX})


class UnknownProduct(DomainError):
    code = "unknown_product"

    def __init__(self, product_id: str) -> None:
        super().__init__(f"unknown product {product_id!r}")
        self.product_id = product_id


class UnsupportedBusinessKind(DomainError):
    code = "unsupported_business_kind"

    def __init__(self, product_id: str, kind: str) -> None:
        super().__init__(f"product {product_id!r} does not support business kind {kind!r}")
        self.product_id = product_id
        self.business_kind = kind  # not `kind`: that is the error kind (backbone.errors)


class FieldError(FrozenModel):
    """One entry of problem+json ``errors``."""

    field: str
    message: str


class InvalidAttributes(DomainError):
    """The attributes of an order item do not match their product's schema (422, every wrong field named)."""

    code = "invalid_attributes"

    def __init__(self, product_id: str, field_errors: list[FieldError]) -> None:
        summary = "; ".join(f"{e.field or '(attributes)'}: {e.message}" for e in field_errors)
        super().__init__(f"invalid attributes for product {product_id!r}: {summary}",
                         errors=[e.model_dump() for e in field_errors])
        self.product_id = product_id
        self.field_errors = field_errors


class LocalizedName(FrozenClosedModel):
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


class Product(FrozenClosedModel):
    model_config = ConfigDict(populate_by_name=True)
    id: ProductId
    name: LocalizedName = Field(description="from the suite's labels (shared/backbone/labels.yaml), not the file")
    bearer_mode: BearerMode
    business_kinds: tuple[BusinessKind, ...] = Field(min_length=1)
    attributes_schema: dict[str, Any] = Field(alias="schema")
    kind_overrides: dict[BusinessKind, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _name_from_labels(cls, data: Any) -> Any:
        """A product's names are the suite's labels of its id: one source for every service and message."""
        if not isinstance(data, Mapping):
            return data
        if "name" in data:
            raise ValueError(f"{data.get('id')}: product names come from shared/backbone/labels.yaml; remove 'name'")
        product = str(data.get("id"))
        names = {"en": labels().get(LabelCategory.PRODUCT, product, "en"),
                 "zh": labels().get(LabelCategory.PRODUCT, product, "zh-CN")}
        if None in names.values():
            raise ValueError(f"{product}: no label in shared/backbone/labels.yaml (product)")
        return {**data, "name": names}

    @model_validator(mode="after")
    def _schemas(self) -> Self:
        if self.attributes_schema.get("$schema") != DRAFT_2020_12:
            raise ValueError(f"{self.id}: schema must declare $schema {DRAFT_2020_12}")
        for kind in self.kind_overrides:
            if kind not in self.business_kinds:
                raise ValueError(f"{self.id}: override for unsupported business kind {kind}")
        for kind in self.business_kinds:
            try:
                Draft202012Validator.check_schema(self.schema_for(kind))
            except SchemaError as exc:
                raise ValueError(f"{self.id} ({kind}): invalid JSON Schema: {exc.message}") from exc
        if self.attributes_schema.get("type") != "object":
            raise ValueError(f"{self.id}: attributes schema must be of type object")
        for kind in self.business_kinds:
            schema = self.schema_for(kind)
            names = schema.get(FULFILMENT_REQUIRED, [])
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ValueError(f"{self.id} ({kind}): {FULFILMENT_REQUIRED} must be a list of attribute names")
            for name in names:
                if name not in schema.get("properties", {}) or name in schema.get("required", []):
                    raise ValueError(f"{self.id} ({kind}): {FULFILMENT_REQUIRED} names {name!r}, which must be "
                                     "a property that capture does not require")
        return self

    def fulfilment_required(self, kind: BusinessKind = BusinessKind.OPENING) -> tuple[str, ...]:
        """The attributes capture may go without but fulfilment needs (``x-fulfilment-required``)."""
        return tuple(self.schema_for(kind).get(FULFILMENT_REQUIRED, ()))

    def schema_for(self, kind: BusinessKind = BusinessKind.OPENING) -> dict[str, Any]:
        """The effective schema for one business kind (a fresh copy)."""
        schema = copy.deepcopy(self.attributes_schema)
        schema.update(copy.deepcopy(self.kind_overrides.get(kind, {})))
        return schema

    def validator_for(self, kind: BusinessKind) -> Draft202012Validator:
        """The validator of the effective schema for one business kind, built once per product and kind
        (a frozen product's schemas never change; building one per order item was measurable)."""
        return self._compiled(kind).validator

    def accepts(self, kind: BusinessKind, attributes: Any) -> bool:
        """True when `attributes` are valid for `kind` by the schema's compiled check (`compile_check`), False
        when they are not or the check does not cover the schema (then jsonschema decides and names the errors)."""
        check = self._compiled(kind).check
        return check is not None and check(attributes)

    def _compiled(self, kind: BusinessKind) -> _Compiled:
        key = (id(self), kind)
        cached = _VALIDATORS.get(key)
        if cached is None:
            if len(_VALIDATORS) >= 256:  # catalogues parsed by tests come and go; the packaged one stays
                _VALIDATORS.clear()
            schema = self.schema_for(kind)
            cached = _VALIDATORS[key] = _Compiled(self, Draft202012Validator(schema), compile_check(schema))
        return cached

    @property
    def platforms(self) -> tuple[Platform, ...]:
        return tuple(Platform) if self.id in MULTI_PLATFORM_PRODUCTS else ()


class _Compiled(NamedTuple):
    product: Product  # kept alive so its id is not reused
    validator: Draft202012Validator
    check: Callable[[Any], bool] | None


#: (id(product), kind) → the product's validator and compiled check for that kind
_VALIDATORS: dict[tuple[int, BusinessKind], _Compiled] = {}


#: the keywords `compile_check` takes jsonschema-rs's yes for: where a test holds it never to accept what jsonschema
#: refuses (`multipleOf` with fractions, for one, it does accept more)
_CHECKED_KEYWORDS = frozenset({
    "$schema", "$id", "$comment", "$defs", "$ref", "title", "description", "default", "examples", FULFILMENT_REQUIRED,
    "type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
    "pattern", "required", "properties", "additionalProperties", "minProperties", "maxProperties",
})


def _checked_keywords_only(schema: Any) -> bool:
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, Mapping) or not _CHECKED_KEYWORDS.issuperset(schema):
        return False
    subschemas = [*schema.get("properties", {}).values(), *schema.get("$defs", {}).values()]
    if not isinstance(schema.get("additionalProperties", True), bool):
        subschemas.append(schema["additionalProperties"])
    return all(_checked_keywords_only(sub) for sub in subschemas)


def compile_check(schema: Mapping[str, Any]) -> Callable[[Any], bool] | None:
    """A fast test of `schema` (draft 2020-12) compiled once: jsonschema-rs's validator, about 1.5 µs per order
    item where jsonschema walks the schema in ~150-300 µs (issue 16). Only its yes is taken: anything it does not
    accept goes to jsonschema, which decides and names the errors (the 422's `errors` unchanged; a test holds the
    two to the same answers on the packaged schemas). None when the schema uses a keyword outside
    `_CHECKED_KEYWORDS` or jsonschema-rs refuses it: jsonschema checks every instance. Instances are JSON values
    (an item's `model_dump(mode="json")`): jsonschema-rs also takes a tuple for an array, jsonschema does not."""
    if not _checked_keywords_only(schema):
        return None
    try:
        validator = jsonschema_rs.Draft202012Validator(dict(schema))
    except (ValueError, jsonschema_rs.ValidationError):
        return None

    def check(instance: Any) -> bool:
        try:
            return bool(validator.is_valid(instance))
        except (ValueError, TypeError, OverflowError):  # not a JSON value it can read: jsonschema decides
            return False

    return check


class Catalogue(FrozenClosedModel):
    version: int = Field(ge=1)
    defaults: dict[str, Any] | None = Field(default=None, description="YAML anchor holder")
    products: tuple[Product, ...]
    _by_id: dict[str, Product] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _complete(self) -> Self:
        ids = [p.id for p in self.products]
        if len(ids) != len(set(ids)):
            raise ValueError("duplicate product ids")
        missing = set(ProductId) - set(ids)
        if missing:
            raise ValueError(f"missing products: {', '.join(sorted(missing))}")
        self._by_id = {p.id.value: p for p in self.products}  # looked up per order item
        return self

    def get(self, product_id: str) -> Product:
        product = self._by_id.get(product_id)
        if product is None:
            raise UnknownProduct(product_id)
        return product

    def __iter__(self) -> Iterator[Product]:  # type: ignore[override]
        return iter(self.products)

    def offerings(self) -> list[tuple[ProductId, Platform | None]]:
        """Every (product id, platform or None) pair a customer can order."""
        out: list[tuple[ProductId, Platform | None]] = []
        for p in self.products:
            out.extend([(p.id, pl) for pl in p.platforms] or [(p.id, None)])
        return out


def parse_catalogue(data: Mapping[str, Any]) -> Catalogue:
    try:
        return Catalogue.model_validate(copy.deepcopy(dict(data)))
    except ValidationError as exc:
        raise InvalidConfiguration(f"invalid product catalogue: {exc}") from exc


@lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    """The packaged ``crm/data/products.yaml``, validated (cached)."""
    data = read_data_file("products.yaml")
    if not isinstance(data, Mapping):
        raise InvalidConfiguration("products.yaml must hold a mapping")
    return parse_catalogue(data)


def _path(parts: Iterator[Any] | Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _join(base: str, name: str) -> str:
    return f"{base}.{name}" if base else name


def _message(err: SchemaValidationError) -> str:
    v, arg = err.validator, err.validator_value
    if v == "type":
        return f"must be of type {arg}"
    if v == "enum":
        return "must be one of: " + ", ".join(str(x) for x in (arg if isinstance(arg, list) else [arg]))
    if v == "minimum":
        return f"must be >= {arg}"
    if v == "maximum":
        return f"must be <= {arg}"
    if v == "minLength":
        return "must not be empty" if arg == 1 else f"must have at least {arg} characters"
    if v == "maxLength":
        return f"must have at most {arg} characters"
    if v == "pattern":
        return "has an invalid format"
    if v == "minProperties":
        return f"at least {arg} attribute(s) must be given"
    return err.message


def _field_errors(err: SchemaValidationError) -> list[FieldError]:
    base = _path(err.absolute_path)
    if err.validator == "required" and isinstance(err.instance, Mapping):
        names = err.validator_value if isinstance(err.validator_value, list) else []
        missing = [name for name in names if name not in err.instance]
        return [FieldError(field=_join(base, n), message="is required") for n in missing]
    if err.validator == "additionalProperties" and isinstance(err.instance, Mapping):
        schema = err.schema if isinstance(err.schema, Mapping) else {}
        allowed = set(schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in allowed)
        return [FieldError(field=_join(base, k), message="is not allowed") for k in extra]
    return [FieldError(field=base, message=_message(err))]


def attribute_errors(
    product: Product | str,
    attributes: Any,
    kind: BusinessKind | str = BusinessKind.OPENING,
    catalogue: Catalogue | None = None,
) -> list[FieldError]:
    """All problems of ``attributes`` for ``product`` and ``kind`` (empty when valid)."""
    if isinstance(product, str):
        product = (catalogue or load_catalogue()).get(product)
    try:
        kind = BusinessKind(kind)
    except ValueError:
        raise UnsupportedBusinessKind(product.id, str(kind)) from None
    if kind not in product.business_kinds:
        raise UnsupportedBusinessKind(product.id, kind)
    if product.accepts(kind, attributes):
        return []
    errors = [fe for err in product.validator_for(kind).iter_errors(attributes) for fe in _field_errors(err)]
    return sorted(set(errors), key=lambda e: (e.field, e.message))


def validate_attributes(
    product: Product | str,
    attributes: Any,
    kind: BusinessKind | str = BusinessKind.OPENING,
    catalogue: Catalogue | None = None,
) -> None:
    """Raise ``InvalidAttributes`` (listing every wrong field) unless the attributes are valid."""
    errors = attribute_errors(product, attributes, kind, catalogue)
    if errors:
        pid = product.id if isinstance(product, Product) else product
        raise InvalidAttributes(str(pid), errors)
