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
import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any, NamedTuple, Self

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


# --- the compiled check: a schema's keywords as Python tests, for the valid attributes of every order -------
#
# jsonschema walks the schema for every instance (~150 µs of the CRM's CPU per order item, issue 16). Most
# items are valid, so a schema made of the keywords below is compiled once into a plain test; anything it does
# not accept goes to jsonschema, which decides and names the errors (the 422's `errors` unchanged). The test
# may refuse more than jsonschema (that costs a second look, never a wrong answer) but never accepts what
# jsonschema refuses: each keyword holds exactly where jsonschema's holds (a test checks both agree).

#: keywords that do not constrain an instance
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "$defs", "title", "description", "default", "examples",
                          FULFILMENT_REQUIRED})


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": _is_number,
    # jsonschema's integer: an int that is no bool, or a float without a fraction (2.0)
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
}


class _Unsupported(Exception):
    """A keyword (or a form of one) the compiled check does not cover: jsonschema checks every instance."""


def compile_check(schema: Mapping[str, Any]) -> Callable[[Any], bool] | None:
    """A test accepting only instances `schema` accepts (draft 2020-12): the keywords `type`, `enum` (of strings
    and numbers), `minimum`, `maximum`, `minLength`, `maxLength`, `pattern`, `required`, `properties`,
    `additionalProperties` (a boolean), `minProperties` and a `$ref` into the schema's own `$defs`; None when
    the schema uses anything else."""
    try:
        return _compile(schema, schema, 0)
    except _Unsupported:
        return None


def _compile(schema: Any, root: Mapping[str, Any], depth: int) -> Callable[[Any], bool]:
    if schema is True:
        return lambda v: True
    if not isinstance(schema, Mapping) or depth > 16:
        raise _Unsupported(schema)
    tests: list[Callable[[Any], bool]] = []
    for keyword, arg in schema.items():
        if keyword in _ANNOTATIONS or keyword in ("properties", "additionalProperties"):
            continue
        tests.append(_keyword(keyword, arg, schema, root, depth))
    if "properties" in schema or "additionalProperties" in schema:
        tests.append(_properties(schema, root, depth))
    return _all_of(tests)


def _all_of(tests: list[Callable[[Any], bool]]) -> Callable[[Any], bool]:
    if len(tests) == 1:
        return tests[0]

    def check(v: Any) -> bool:
        for test in tests:  # noqa: SIM110 (a loop: all() of a generator costs a frame per test)
            if not test(v):
                return False
        return True

    return check


def _keyword(keyword: str, arg: Any, schema: Mapping[str, Any], root: Mapping[str, Any],
             depth: int) -> Callable[[Any], bool]:
    if keyword == "type":
        names = [arg] if isinstance(arg, str) else arg
        if not isinstance(names, list) or not names or any(n not in _TYPE_TESTS for n in names):
            raise _Unsupported(keyword)
        type_tests = [_TYPE_TESTS[n] for n in names]
        return type_tests[0] if len(type_tests) == 1 else lambda v: any(t(v) for t in type_tests)
    if keyword == "enum":
        if not isinstance(arg, list) or not all(isinstance(x, str) or _is_number(x) for x in arg):
            raise _Unsupported(keyword)
        allowed = frozenset(arg)  # 2.0 == 2 as in jsonschema; a bool is none of them (True == 1 is not taken)
        return lambda v: (isinstance(v, str) or _is_number(v)) and v in allowed
    if keyword in ("minimum", "maximum"):
        if not _is_number(arg):
            raise _Unsupported(keyword)
        if keyword == "minimum":
            return lambda v: not _is_number(v) or arg <= v
        return lambda v: not _is_number(v) or v <= arg
    if keyword in ("minLength", "maxLength", "minProperties"):
        if not isinstance(arg, int) or isinstance(arg, bool):
            raise _Unsupported(keyword)
        if keyword == "minLength":
            return lambda v: not isinstance(v, str) or len(v) >= arg
        if keyword == "maxLength":
            return lambda v: not isinstance(v, str) or len(v) <= arg
        return lambda v: not isinstance(v, dict) or len(v) >= arg
    if keyword == "pattern":
        if not isinstance(arg, str):
            raise _Unsupported(keyword)
        search = re.compile(arg).search
        return lambda v: not isinstance(v, str) or search(v) is not None
    if keyword == "required":
        if not isinstance(arg, list) or not all(isinstance(n, str) for n in arg):
            raise _Unsupported(keyword)
        names = tuple(arg)
        return lambda v: not isinstance(v, dict) or all(n in v for n in names)
    if keyword == "$ref":
        prefix = "#/$defs/"
        defs = root.get("$defs")
        if not isinstance(arg, str) or not arg.startswith(prefix) or not isinstance(defs, Mapping) \
                or arg[len(prefix):] not in defs:
            raise _Unsupported(keyword)
        return _compile(defs[arg[len(prefix):]], root, depth + 1)
    raise _Unsupported(keyword)


def _properties(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> Callable[[Any], bool]:
    properties = schema.get("properties", {})
    additional = schema.get("additionalProperties", True)
    if not isinstance(properties, Mapping) or not isinstance(additional, bool):
        raise _Unsupported("properties")
    tests = {name: _compile(sub, root, depth + 1) for name, sub in properties.items()}

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        for name, value in v.items():
            test = tests.get(name)
            if test is None:
                if not additional:
                    return False
            elif not test(value):
                return False
        return True

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
