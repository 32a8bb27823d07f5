"""`backbone.shapes.find` (a member of validated data, or the caller's error) and
`backbone.settings.json_or_items` (a setting of several values: JSON or comma-separated items)."""

from __future__ import annotations

import pytest

from backbone.settings import json_or_items
from backbone.shapes import find


class Missing(Exception):
    pass


def test_find_returns_the_first_match_and_raises_the_given_error_when_none_matches() -> None:
    items = [("a", 1), ("b", 2), ("b", 3)]
    assert find(items, lambda i: i[0] == "b", Missing("b")) == ("b", 2)
    error = Missing("c")
    with pytest.raises(Missing) as caught:
        find(items, lambda i: i[0] == "c", error)
    assert caught.value is error
    with pytest.raises(KeyError):
        find([], lambda i: True, KeyError("x"))


@pytest.mark.parametrize(("raw", "expected"), [
    ("", []),
    (" , ", []),
    ("a", ["a"]),
    (" a , b ,, c ", ["a", "b", "c"]),
    ("k=v, k2 = v2", ["k=v", "k2 = v2"]),
    (' ["a", "b"] ', ["a", "b"]),
    ('{"k": "v"}', {"k": "v"}),
])
def test_json_or_items_reads_json_or_comma_separated_items(raw: str, expected: object) -> None:
    assert json_or_items(raw) == expected


def test_json_or_items_leaves_a_value_that_is_not_a_string_as_it_is() -> None:
    value = {"k": "v"}
    assert json_or_items(value) is value
    assert json_or_items(["a"]) == ["a"]
    assert json_or_items(None) is None


def test_json_or_items_refuses_broken_json() -> None:
    with pytest.raises(ValueError):
        json_or_items('["a",')
