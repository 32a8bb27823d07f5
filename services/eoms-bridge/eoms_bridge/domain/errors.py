"""Domain errors of the EOMS bridge (pure; the API layer maps them to HTTP statuses)."""

from __future__ import annotations


class DomainError(Exception):
    """Base class of every error raised by the pure domain layer."""


class WorkflowDefinitionError(DomainError, ValueError):
    """A workflow definition is invalid (API: 422). ``problems`` lists every issue found."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = problems if problems is not None else [message]


class WorkflowNotFoundError(DomainError, LookupError):
    """No workflow for this business type / id / version (API: 404)."""


class UnknownNodeError(DomainError, LookupError):
    """A node name that the ticket definition does not contain."""


class UnknownOutcomeError(DomainError, ValueError):
    """An outcome the current node does not define (API: 422)."""


class MissingReasonError(DomainError, ValueError):
    """An action that needs a reason (reject outcome, return) got none (API: 422)."""


class IllegalTransitionError(DomainError):
    """The action is not allowed in the ticket's current state / node (API: 409)."""


class ActorNotAllowedError(DomainError):
    """The actor does not hold the role the node requires, or is not the assignee (API: 403)."""
