"""Cursor (keyset) pagination with a sort whitelist: `limit`, opaque `cursor`, `{items, next_cursor}`.

The cursor carries the sort it was made for and the last row's (sort value, id); the next page is
the rows strictly after that pair in the sort order, so pages never skip or repeat a row while
rows are added. `sort` is a whitelisted column name, `-` in front for descending.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.problems import Problem

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def _bad(field: str, message: str) -> Problem:
    return Problem(422, "Invalid request", f"{field}: {message}", errors=[{"field": field, "message": message}])


def _encode(sort: str, value: Any, ident: str) -> str:
    v = {"dt": value.isoformat()} if isinstance(value, datetime) else value
    raw = json.dumps({"s": sort, "v": v, "id": ident}, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, sort: str) -> tuple[Any, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        value, ident, made_for = data["v"], str(data["id"]), data["s"]
        if isinstance(value, dict):
            value = datetime.fromisoformat(value["dt"])
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise _bad("cursor", "is not a cursor this API returned") from None
    if made_for != sort:
        raise _bad("cursor", f"was made for sort={made_for}, not sort={sort}")
    return value, ident


def parse_sort(sort: str | None, allowed: Mapping[str, Any], default: str) -> tuple[str, Any, bool]:
    """(normalised sort, column, descending); 422 for a column outside the whitelist."""
    sort = (sort or default).strip()
    desc = sort.startswith("-")
    name = sort.lstrip("-+")
    if name not in allowed:
        raise _bad("sort", f"must be one of: {', '.join(sorted(allowed))} (prefix - for descending)")
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
) -> tuple[Sequence[Any], str | None]:
    """One page of rows of `stmt` and the cursor of the next page (None on the last one)."""
    sort_key, column, desc = parse_sort(sort, allowed, default_sort)
    if cursor:
        value, ident = _decode(cursor, sort_key)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        key, last = tuple_(column, id_column), tuple_(value, ident)
        after: ColumnElement[bool] = key < last if desc else key > last
        stmt = stmt.where(after)
    order = (column.desc(), id_column.desc()) if desc else (column.asc(), id_column.asc())
    rows = (await session.execute(stmt.order_by(*order).limit(limit + 1))).all()
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]._mapping
    return rows[:limit], _encode(sort_key, last[column.key], str(last[id_column.key]))


def as_utc(value: datetime | None) -> datetime | None:
    """Query-string datetimes without an offset are taken as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
