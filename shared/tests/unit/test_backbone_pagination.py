"""Keyset cursors: opaque round trip, scope, and a 422-able error for anything the API did not make."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, DateTime, MetaData, String, Table

from backbone.errors import ErrorKind
from backbone.pagination import (
    InvalidCursor,
    InvalidSort,
    Page,
    _check_types,
    decode_cursor,
    encode_cursor,
    parse_sort,
)

things = Table("things", MetaData(), Column("id", String), Column("created_at", DateTime(timezone=True)))


def test_a_cursor_round_trips_its_key_values() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    cursor = encode_cursor([at, "thg_1"], scope="sort=-created_at")
    assert "=" not in cursor and "thg_1" not in cursor
    assert decode_cursor(cursor, size=2, scope="sort=-created_at") == [at, "thg_1"]


@pytest.mark.parametrize("bad", ["nope", "", "!!!!", encode_cursor(["a", "b"]), "eyJrIjo1fQ"])
def test_anything_else_is_an_invalid_cursor_naming_the_field(bad: str) -> None:
    with pytest.raises(InvalidCursor) as info:
        decode_cursor(bad, size=1)
    assert info.value.kind is ErrorKind.INVALID
    assert info.value.errors == [{"field": "cursor", "message": "is not a cursor this API returned"}]


def test_a_cursor_made_for_another_scope_is_refused() -> None:
    cursor = encode_cursor(["x", "id"], scope="sort=name")
    with pytest.raises(InvalidCursor, match="was made for sort=name, not sort=-created_at"):
        decode_cursor(cursor, size=2, scope="sort=-created_at")


def test_key_values_must_have_the_columns_types() -> None:
    _check_types([datetime.now(UTC), "id"], [things.c.created_at, things.c.id])
    with pytest.raises(InvalidCursor):
        _check_types([5, "id"], [things.c.created_at, things.c.id])


def test_sort_whitelist() -> None:
    assert parse_sort("-created_at", {"created_at": things.c.created_at}, "id") == (
        "-created_at", things.c.created_at, True)
    with pytest.raises(InvalidSort) as info:
        parse_sort("secret", {"created_at": things.c.created_at}, "created_at")
    assert info.value.errors is not None and info.value.errors[0]["field"] == "sort"


def test_page_shape() -> None:
    assert Page[int](items=[1, 2]).model_dump() == {"items": [1, 2], "next_cursor": None}
