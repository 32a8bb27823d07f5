"""Domain errors of the SLA service, as kinds of the backbone's error model.

The app factory maps them to problem+json once (`backbone.problems`): `PolicyError` → 422 with
`errors[].field` naming the input at fault, `NoMatchingPolicy` and `UnknownVersion` → 404,
`IllegalTransition` and `VersionConflict` → 409.
"""

from __future__ import annotations

from typing import Any

from backbone import errors


class PolicyError(errors.Invalid, ValueError):
    """A policy set or calendar definition is invalid; the message names the culprit.

    A `ValueError` too: raised inside a pydantic validator it becomes a validation error there.
    Without a field of its own it is about the request body as a whole.
    """

    title = "Invalid policy set"
    code = "invalid_policy"

    def __init__(self, message: str, *, field: str | None = "body", **kw: Any) -> None:
        super().__init__(message, field=field, **kw)


class NoMatchingPolicy(errors.NotFound, LookupError):
    """No rule of the policy set matches the given keys."""

    code = "no_matching_policy"


class UnknownVersion(errors.NotFound, LookupError):
    """No policy version of that name is loaded."""

    code = "unknown_policy_version"

    def __init__(self, version: str) -> None:
        super().__init__(f"policy version {version!r} is not loaded")
        self.version = version


class VersionConflict(errors.Conflict):
    """The version exists with a different content: a new content needs a new version."""

    code = "policy_version_conflict"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="version")


class IllegalTransition(errors.IllegalTransition):
    """A timer transition that its current state does not allow (HTTP 409)."""


class TimeOrderError(IllegalTransition):
    """An event time earlier than the timer's last event (clock went backwards)."""
