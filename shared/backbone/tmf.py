"""TMF630 (REST API design guidelines) conventions, once, for every `/tmf-api` route of every service.

The native `/api/v1` routes answer errors as RFC 9457 problem+json; a TM Forum face answers them as
the TMF `Error` resource instead. The app factory's error handlers (`backbone.problems`) call
`error_response` for any path under `TMF_PREFIX`, so every error there (validation, authorization,
domain errors, the last-resort handlers, the body-limit and NUL guards of `backbone.api`) is a TMF
`Error`:

    {"code": "illegal_transition", "reason": "Illegal transition", "status": "409",
     "message": "state: cannot change the items of an order in state submitted",
     "referenceError": "urn:groupsuite:tmf-error:illegal_transition", "@type": "Error"}

A 422 of the native face is a 400 here (the TMF specifications list 400 for a bad request, not 422);
the message names every wrong field first (`productOrderItem.0.action: ...`).

What a TMF router uses, so that each convention has one implementation:

- `TmfResource`: the base of a resource's response model (`id`, `href`; `@type` by alias);
- `TmfResponse` / `resource_response` / `list_response`: `application/json;charset=utf-8` bodies with
  absent fields omitted (never `null`: `omit_absent`), the `fields=` attribute selection
  (`select_fields`; `id`, `href`, `@type` and the members the resource's schema requires, `keep=`,
  always stay), and on lists `X-Total-Count` (all matches)
  and `X-Result-Count` (this page);
- `PagingDep` (`offset`, `limit`), `FieldsQuery`, `StatesQuery` (`state=a,b` or repeated) and
  `DateRange` / `date_range(...)` (`<attribute>.gt|gte|lt|lte=`; TMF630 filtering by dates);
- `tmf_error`: raise from a TMF router for an error that is TMF's own (e.g. a reference that does not
  resolve, which the specification answers with 400), naming the field;
- `merge_patch`: RFC 7386 merge of a PATCH body into a resource.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from backbone.errors import Invalid

TMF_PREFIX = "/tmf-api"
#: The media type the TMF specifications declare (`produces`).
TMF_JSON = "application/json;charset=utf-8"
#: `referenceError` is this URN followed by the error's code (docs/tmf.md lists the codes).
ERROR_REFERENCE = "urn:groupsuite:tmf-error:"
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
#: The members `fields=` never drops.
ALWAYS_SELECTED = ("id", "href", "@type")

_REASONS = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
            409: "Conflict", 413: "Content too large", 415: "Unsupported media type", 500: "Internal error",
            503: "Service unavailable"}
_CODES = {400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "content_too_large", 415: "unsupported_media_type", 500: "internal_error",
          503: "unavailable"}
_CODE_RE = re.compile(r"[^a-z0-9_]+")


def is_tmf_path(path: str) -> bool:
    """True for a path of a TM Forum face (its errors are TMF `Error` bodies)."""
    return path == TMF_PREFIX or path.startswith(TMF_PREFIX + "/")


def tmf_status(status: int) -> int:
    """The status a TMF face answers: a 422 of the native face is a 400 (Bad Request) here."""
    return 400 if status == 422 else status


def error_message(detail: str | None, errors: Sequence[Mapping[str, Any]] | None) -> str | None:
    """The message of an Error: each wrong field named first (`field: what is wrong`), else the detail."""
    if errors:
        named = [f"{e['field']}: {e['message']}" if e.get("field") else str(e.get("message", "")) for e in errors]
        return "; ".join(named[:10])
    return detail


def error_body(status: int, reason: str | None = None, message: str | None = None, *,
               code: str | None = None) -> dict[str, Any]:
    """The TMF `Error` resource (code, reason, message, status, referenceError, @type); absent members omitted."""
    status = tmf_status(status)
    reason = reason or _REASONS.get(status, "Error")
    slug = _CODE_RE.sub("_", (code or _CODES.get(status, str(status))).lower()).strip("_") or str(status)
    body: dict[str, Any] = {"code": slug, "reason": reason, "status": str(status)}
    if message:
        body["message"] = message
    body["referenceError"] = ERROR_REFERENCE + slug
    body["@type"] = "Error"
    return body


def error_response(status: int, reason: str | None = None, message: str | None = None, *, code: str | None = None,
                   errors: Sequence[Mapping[str, Any]] | None = None,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    """A TMF `Error` response (what `backbone.problems` answers on every path under /tmf-api)."""
    body = error_body(status, reason, error_message(message, errors), code=code)
    return TmfResponse(body, status_code=tmf_status(status), headers=dict(headers) if headers else None)


def error_bytes(status: int, reason: str, message: str) -> bytes:
    """The body of an Error sent by a raw ASGI middleware (body limit, NUL guard)."""
    return TmfResponse.render_json(error_body(status, reason, message))


class TmfResponse(JSONResponse):
    """JSON in the media type the TMF specifications declare."""

    media_type = TMF_JSON

    @staticmethod
    def render_json(content: Any) -> bytes:
        return bytes(JSONResponse(content).body)


class TmfInvalid(Invalid):
    """A TMF request that is wrong in a way the router finds (e.g. a reference that resolves to nothing):
    400, naming the field."""

    code = "invalid_request"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)
        self._errors = [{"field": field, "message": message}]


def tmf_error(field: str, message: str) -> TmfInvalid:
    """`raise tmf_error("productOrder.id", "no such product order")`: a 400 Error naming the field."""
    return TmfInvalid(field, message)


# ---------------------------------------------------------------------------------------------------- bodies


def omit_absent(value: Any) -> Any:
    """The value with every `None` member of every object dropped (absent fields are omitted, never null)."""
    if isinstance(value, dict):
        return {k: omit_absent(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [omit_absent(v) for v in value]
    return value


class TmfResource(BaseModel):
    """The base of a resource a TMF face answers (its OpenAPI shape): every TMF630 resource has an `id` and an
    `href`; the subclass adds its members and `type_` (alias `@type`, defaulting to its name). Aliases are the
    member names on output (`dump`), and either is accepted on construction."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)
    id: str
    href: str


def dump(resource: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    """A resource model (aliases such as `@type` applied) as JSON-ready data without absent members."""
    data = resource.model_dump(mode="json", by_alias=True, exclude_none=True) if isinstance(resource, BaseModel) \
        else dict(resource)
    out: dict[str, Any] = omit_absent(data)
    return out


def parse_fields(fields: str | None) -> list[str] | None:
    """`fields=state,orderDate` -> ["state", "orderDate"]; None or blank -> None (everything)."""
    if fields is None:
        return None
    names = [f.strip() for f in fields.split(",") if f.strip()]
    return names or None


def select_fields(resource: Mapping[str, Any], fields: str | Iterable[str] | None,
                  keep: Sequence[str] = ()) -> dict[str, Any]:
    """TMF630 attribute selection: only the named members (a dotted name keeps that member's member, in
    every element of a list), plus `id`, `href`, `@type` and the members in `keep` (those the resource's
    schema requires, so that a selection still validates). A name the resource does not have selects
    nothing."""
    names = parse_fields(fields) if isinstance(fields, str) or fields is None else list(fields)
    if names is None:
        return dict(resource)
    tree: dict[str, Any] = {}
    for name in [*ALWAYS_SELECTED, *keep, *names]:
        node = tree
        parts = name.split(".")
        for i, part in enumerate(parts):
            if node.get(part) is True:  # the whole member is selected already
                break
            if i == len(parts) - 1:
                node[part] = True  # the whole member (wins over a selection of its members)
                break
            node = node.setdefault(part, {})
    selected: dict[str, Any] = _select(resource, tree)
    return selected


def _select(value: Any, tree: dict[str, Any]) -> Any:
    if isinstance(value, list):
        return [_select(v, tree) for v in value]
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    for key, sub in tree.items():
        if key not in value:
            continue
        out[key] = value[key] if sub is True else _select(value[key], sub)
    return out


def resource_response(resource: BaseModel | Mapping[str, Any], *, fields: str | None = None, status_code: int = 200,
                      headers: Mapping[str, str] | None = None, keep: Sequence[str] = ()) -> TmfResponse:
    """One resource: absent members omitted, `fields=` applied (`keep`: members it never drops)."""
    return TmfResponse(select_fields(dump(resource), fields, keep), status_code=status_code,
                       headers=dict(headers) if headers else None)


def list_response(resources: Sequence[BaseModel | Mapping[str, Any]], *, total: int,
                  fields: str | None = None, keep: Sequence[str] = ()) -> TmfResponse:
    """A page of resources with `X-Total-Count` (all that match) and `X-Result-Count` (this page)."""
    body = [select_fields(dump(r), fields, keep) for r in resources]
    return TmfResponse(body, headers={"X-Total-Count": str(total), "X-Result-Count": str(len(body))})


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge member by member, `null` removes, anything else replaces."""
    if not isinstance(patch, Mapping):
        return patch
    out = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


# ---------------------------------------------------------------------------------------------------- queries

FieldsQuery = Annotated[str | None, Query(
    max_length=1000, description="TMF630 attribute selection: comma-separated members to return "
                                 "(id, href and @type always); a dotted name selects a member's member")]


@dataclass(frozen=True)
class Paging:
    offset: int
    limit: int


def _paging(
    offset: Annotated[int, Query(ge=0, le=2**31 - 1, description="index of the first resource of the page")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"page size (at most {MAX_LIMIT})")] = DEFAULT_LIMIT,
) -> Paging:
    return Paging(offset=offset, limit=limit)


#: `offset` / `limit` of a TMF list (X-Total-Count / X-Result-Count come with `list_response`).
PagingDep = Annotated[Paging, Depends(_paging)]


def split_values(values: Sequence[str] | None) -> list[str]:
    """`state=a,b&state=c` -> ["a", "b", "c"]."""
    return [v.strip() for raw in values or [] for v in raw.split(",") if v.strip()]


def check_values(field: str, values: Sequence[str], allowed: Iterable[str]) -> list[str]:
    """The values, each one of `allowed`, else a 400 naming the field."""
    known = list(allowed)
    wrong = [v for v in values if v not in known]
    if wrong:
        raise tmf_error(field, f"unknown value {wrong[0]!r} (one of {', '.join(known)})")
    return list(values)


StatesQuery = Annotated[list[str] | None, Query(
    alias="state", description="TMF630 filtering: one or more states, comma-separated or repeated")]


@dataclass(frozen=True)
class DateRange:
    """TMF630 filtering by a date attribute: `<attribute>.gt`, `.gte`, `.lt`, `.lte`."""

    attribute: str
    gt: datetime | None = None
    gte: datetime | None = None
    lt: datetime | None = None
    lte: datetime | None = None

    def conditions(self, column: Any) -> list[Any]:
        """SQL conditions on `column` (timestamptz) for the bounds given; naive times are UTC."""
        out: list[Any] = []
        for op, bound in (("__gt__", self.gt), ("__ge__", self.gte), ("__lt__", self.lt), ("__le__", self.lte)):
            if bound is not None:
                out.append(getattr(column, op)(_utc(bound)))
        return out


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def date_range(attribute: str) -> Any:
    """A dependency reading `<attribute>.gt|gte|lt|lte` from the query (documented in the OpenAPI document):

        OrderDates = Annotated[DateRange, date_range("orderDate")]
    """

    def dependency(**bounds: datetime | None) -> DateRange:
        return DateRange(attribute, bounds.get("gt"), bounds.get("gte"), bounds.get("lt"), bounds.get("lte"))

    words = {"gt": "after", "gte": "at or after", "lt": "before", "lte": "at or before"}
    # An explicit signature: the aliases hold the attribute's name, which string annotations cannot see.
    dependency.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter(op, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
            datetime | None, Query(alias=f"{attribute}.{op}", description=f"{attribute} {word}")])
        for op, word in words.items()
    ], return_annotation=DateRange)
    return Depends(dependency)
