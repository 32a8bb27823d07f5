"""Hostile input stops at the gateway: every value a route receives is checked once, here.

`guard_router` wraps each endpoint of a router (the app factory does it for every service) so
that, after FastAPI has parsed and validated the request, the values the endpoint gets (query, path
and header parameters, bodies, nested models, lists and dicts) hold nothing the database or the
domain cannot take:

* integers within signed 64 bits (a TMF `offset` of 2**64 would overflow PostgreSQL's bigint);
* finite floats and decimals (JSON `1e400` parses to infinity; `NaN`/`Infinity` are accepted by
  Python's JSON parser and by pydantic);
* dates and datetimes between `MIN_YEAR` and `MAX_YEAR` (year 1 or 9999 with an offset overflows
  the moment it is converted to UTC);
* text without NUL characters (PostgreSQL text and JSONB refuse them) and encodable as UTF-8 (a
  lone surrogate such as `"\\ud800"` is valid JSON but no valid text);
* nesting at most `MAX_DEPTH` levels deep.

A value that breaks a rule is a 422 problem naming the field, like any validation error.
`TimezoneName` is the validated IANA zone name for models that accept one.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MIN_YEAR, MAX_YEAR = 1900, 2999
MAX_DEPTH = 32

_GUARDED = "__backbone_guarded__"


Loc = tuple[str | int, ...]


def _problems(value: Any, loc: Loc, depth: int, out: list[tuple[Loc, str]]) -> None:
    """Append `value`'s problems to `out` (a walk that appends, not nested generators: the order's values cost a
    generator frame each, ~1 % of the CRM's CPU per order, issue 16)."""
    if depth > MAX_DEPTH:
        out.append((loc, f"nested more than {MAX_DEPTH} levels deep"))
        return
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        if "\x00" in value:
            out.append((loc, "NUL characters are not accepted"))
        elif not value.isascii():  # ASCII text encodes; anything else may hold a lone surrogate
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                out.append((loc, "not valid Unicode text (unpaired surrogate)"))
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            out.append((loc, "integer out of range (64-bit)"))
    elif isinstance(value, float):
        if not math.isfinite(value):
            out.append((loc, "must be a finite number"))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            out.append((loc, "must be a finite number"))
        elif value.adjusted() > 18:
            out.append((loc, "number out of range"))
    elif isinstance(value, date):  # datetime too
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            out.append((loc, f"must be between the years {MIN_YEAR} and {MAX_YEAR}"))
        elif isinstance(value, datetime) and value.utcoffset() is not None:
            try:
                value.astimezone(ZoneInfo("UTC"))
            except (OverflowError, ValueError):
                out.append((loc, "out of range"))
    elif isinstance(value, BaseModel):
        for name, item in value.__dict__.items():
            _problems(item, (*loc, name), depth + 1, out)
    elif isinstance(value, dict):
        for key, item in value.items():
            _problems(key, (*loc, str(key)[:40]), depth + 1, out)
            _problems(item, (*loc, str(key)[:40]), depth + 1, out)
    elif isinstance(value, list | tuple | set | frozenset):
        for i, item in enumerate(value):
            _problems(item, (*loc, i), depth + 1, out)


def problems_of(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Pydantic-style errors for every unacceptable value among an endpoint's arguments."""
    found: list[tuple[Loc, str]] = []
    for name, value in values.items():
        _problems(value, (name,), 0, found)
    return [{"loc": loc, "msg": msg, "type": "value_error", "input": None} for loc, msg in found]


def check_values(values: dict[str, Any]) -> None:
    if errors := problems_of(values):
        raise RequestValidationError(errors)


def guard_endpoint(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` with its arguments checked first (same signature: FastAPI reads the wrapped one)."""
    if getattr(fn, _GUARDED, False):
        return fn
    wrapper: Callable[..., Any]
    if inspect.isasyncgenfunction(fn):
        @functools.wraps(fn)
        async def agen_wrapper(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            check_values(kwargs)
            async for item in fn(*args, **kwargs):
                yield item
        wrapper = agen_wrapper
    elif inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            check_values(kwargs)
            return await fn(*args, **kwargs)
        wrapper = async_wrapper
    elif inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
            check_values(kwargs)
            yield from fn(*args, **kwargs)
        wrapper = gen_wrapper
    else:
        @functools.wraps(fn)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            check_values(kwargs)
            return fn(*args, **kwargs)
        wrapper = sync_wrapper
    setattr(wrapper, _GUARDED, True)
    return wrapper


def guard_router(router: APIRouter) -> APIRouter:
    """Guard every endpoint of `router` (idempotent). Call before `app.include_router(router)`:
    including copies the routes with their (now guarded) endpoints."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            route.endpoint = guard_endpoint(route.endpoint)
    return router


# ----------------------------------------------------------------------------------------------------
# Values models validate themselves


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def timezone_name(value: str) -> str:
    """An IANA time zone name the machine knows ("Asia/Shanghai"); ValueError for anything else
    (ZoneInfo itself raises KeyError for an unknown name and reads files named by the value)."""
    if not isinstance(value, str) or (value not in _zones() and value != "UTC"):
        raise ValueError(f"unknown time zone {str(value)[:60]!r}")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {value[:60]!r}") from exc
    return value


TimezoneName = Annotated[str, AfterValidator(timezone_name)]
