"""Domain errors of the SLA service.

The API layer maps them to problem+json responses: ``IllegalTransition`` → 409,
``PolicyError`` → 422, ``NoMatchingPolicy`` → 404/422 depending on the caller.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error raised by the pure SLA domain."""


class PolicyError(DomainError, ValueError):
    """A policy set or calendar definition is invalid; the message names the culprit."""


class NoMatchingPolicy(DomainError, LookupError):
    """No rule of the policy set matches the given keys."""


class IllegalTransition(DomainError):
    """A timer transition that its current state does not allow (HTTP 409)."""


class TimeOrderError(IllegalTransition):
    """An event time earlier than the timer's last event (clock went backwards)."""
