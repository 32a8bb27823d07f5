"""The pydantic bases the suite's models derive from, so each kind of model is configured once.

- `FrozenModel`: a value (domain objects, results, views of a thing): immutable and hashable.
- `ClosedModel`: what a client sends (request bodies): an unknown field is an error (a 422 naming it),
  so a misspelt field is never silently dropped.
- `FrozenClosedModel`: both, for data validated at start and kept (product catalogue, tiering
  weights, SLA policies and calendars, workflow definitions) and for closed value objects.

A model that needs more (aliases, whitespace stripping) adds only that in its own `model_config`;
pydantic merges it with the base's.

- `find(items, matches, missing)`: the one member of validated data (a catalogue's product, a workflow's
  node, a policy's rule or calendar) that matches, or the caller's error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class FrozenModel(BaseModel):
    model_config = ConfigDict(frozen=True)


class ClosedModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FrozenClosedModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def find(items: Iterable[T], matches: Callable[[T], bool], missing: Exception) -> T:
    """The first of `items` that `matches`; `missing` raised when none does."""
    for item in items:
        if matches(item):
            return item
    raise missing


__all__ = ["ClosedModel", "FrozenClosedModel", "FrozenModel", "find"]
