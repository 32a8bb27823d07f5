"""Keyset (cursor) pagination for every list endpoint: `limit`, opaque `cursor`, `{items, next_cursor}`.

A page is the rows strictly after the last row of the previous page in the order of a key (one or
more columns, the last one unique, e.g. `(created_at, id)`), so pages never skip or repeat a row
while rows are added. The cursor is opaque to clients: base64url of the last row's key values (and
optionally a scope, e.g. the sort it was made for). A cursor the API did not make, or made for
another scope, raises `InvalidCursor`: a domain error of kind INVALID, i.e. 422 naming `cursor`.

    rows, next_cursor = await fetch_page(session, select(t), key=(t.c.created_at, t.c.id),
                                         cursor=cursor, limit=limit, descending=True)
    return Page[ThingOut](items=[out(r) for r in rows], next_cursor=next_cursor)

`paginate` adds a whitelisted `sort` (`-` in front for descending) on top, with `id` as tie-break.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Row, Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.errors import Invalid

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "InvalidCursor",
    "InvalidSort",
    "Page",
    "as_utc",
    "decode_cursor",
    "encode_cursor",
    "fetch_page",
    "paginate",
    "parse_sort",
]

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    """One page of a list: its items and the cursor of the next page (None on the last one)."""

    items: list[T]
    next_cursor: str | None = None


class InvalidCursor(Invalid):
    """A `cursor` the API did not make (or made for another scope): 422 naming `cursor`."""

    code = "invalid_cursor"

    def __init__(self, message: str = "is not a cursor this API returned") -> None:
        super().__init__(f"cursor: {message}", errors=[{"field": "cursor", "message": message}])


class InvalidSort(Invalid):
    """A `sort` outside the endpoint's whitelist: 422 naming `sort`."""

    code = "invalid_sort"

    def __init__(self, message: str) -> None:
        super().__init__(f"sort: {message}", errors=[{"field": "sort", "message": message}])


def as_utc(value: datetime | None) -> datetime | None:
    """Datetimes without an offset (query strings, old cursors) are taken as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def encode_cursor(values: Sequence[Any], *, scope: str | None = None) -> str:
    """The opaque cursor of a row whose key is `values` (str, int, float, bool, None or datetime)."""
    k = [{"dt": v.isoformat()} if isinstance(v, datetime) else v for v in values]
    data: dict[str, Any] = {"k": k} if scope is None else {"k": k, "s": scope}
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, size: int, scope: str | None = None) -> list[Any]:
    """The key values `encode_cursor` was given; `InvalidCursor` for anything else."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        values, made_for = data["k"], data.get("s")
        if not isinstance(values, list) or len(values) != size:
            raise ValueError("wrong size")
        out = [as_utc(datetime.fromisoformat(v["dt"])) if isinstance(v, dict) else v for v in values]
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        raise InvalidCursor() from None
    if made_for != scope:
        raise InvalidCursor(f"was made for {made_for}, not {scope}")
    return out


def _check_types(values: Sequence[Any], key: Sequence[Any]) -> None:
    for value, column in zip(values, key, strict=True):
        try:
            expected = column.type.python_type
        except (AttributeError, NotImplementedError):
            continue
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            continue
        if value is not None and not isinstance(value, expected):
            raise InvalidCursor()


def _key_of(row: Row[Any], key: Sequence[Any]) -> list[Any]:
    mapping = row._mapping
    return [mapping[column] if column in mapping else mapping[column.key] for column in key]


async def fetch_page(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    key: Sequence[Any],
    cursor: str | None,
    limit: int,
    descending: bool = False,
    scope: str | None = None,
) -> tuple[list[Row[Any]], str | None]:
    """Rows of `stmt` after `cursor` in the order of `key` (limit + 1 read to know if more follow)."""
    if cursor:
        after = decode_cursor(cursor, size=len(key), scope=scope)
        _check_types(after, key)
        left: Any = key[0] if len(key) == 1 else tuple_(*key)
        right: Any = after[0] if len(key) == 1 else tuple_(*after)
        condition: ColumnElement[bool] = left < right if descending else left > right
        stmt = stmt.where(condition)
    order = [c.desc() for c in key] if descending else [c.asc() for c in key]
    rows = list((await session.execute(stmt.order_by(*order).limit(limit + 1))).all())
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor(_key_of(rows[limit - 1], key), scope=scope)


def parse_sort(sort: str | None, allowed: Mapping[str, Any], default: str) -> tuple[str, Any, bool]:
    """(normalised sort, column, descending); `InvalidSort` outside the whitelist."""
    sort = (sort or default).strip()
    desc = sort.startswith("-")
    name = sort.lstrip("-+")
    if name not in allowed:
        raise InvalidSort(f"must be one of: {', '.join(sorted(allowed))} (prefix - for descending)")
    return ("-" if desc else "") + name, allowed[name], desc


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    id_column: Any,
    sort: str | None,
    allowed: Mapping[str, Any],
    default_sort: str = "-created_at",
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> tuple[list[Row[Any]], str | None]:
    """A page ordered by a whitelisted `sort` column then `id_column`; the cursor remembers the sort."""
    sort_key, column, desc = parse_sort(sort, allowed, default_sort)
    return await fetch_page(session, stmt, key=(column, id_column), cursor=cursor, limit=limit, descending=desc,
                            scope=f"sort={sort_key}")
