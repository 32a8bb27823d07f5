"""Errors of the EOMS bridge's domain and use cases, as kinds of the suite's one error model.

Each subclasses a `backbone.errors` kind; the app factory maps the kind to the HTTP status
(problem+json), so no route translates them itself.
"""

from __future__ import annotations

from typing import Any

from backbone.errors import Conflict, Forbidden, IllegalTransition, Invalid, NotFound


class WorkflowDefinitionError(Invalid, ValueError):
    """A workflow definition is invalid (422). ``problems`` lists every issue found.

    The problem body says "Invalid workflow definition", "N problem(s) found", and one
    ``{field: "definition", message}`` per problem; ``str(err)`` keeps the full message.
    """

    title = "Invalid workflow definition"
    code = "invalid_workflow_definition"

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        found = problems if problems is not None else [message]
        super().__init__(message, errors=[{"field": "definition", "message": p} for p in found])
        self.problems: list[str] = found
        self.message = f"{len(found)} problem(s) found"  # the problem's detail; the list is in `errors`


class WorkflowNotFoundError(NotFound, LookupError):
    """No workflow for this business type / id / version (404)."""


class WorkflowConflictError(Conflict):
    """The definition clashes with what is stored (same id and version, or another id's business type)."""


class TicketNotFoundError(NotFound, LookupError):
    """No ticket with this id (404)."""


class StaleTicketError(Conflict):
    """The caller's expected version is not the stored one (optimistic locking; 409)."""


class UnknownNodeError(Invalid, LookupError):
    """A node name that the ticket definition does not contain (422)."""


class UnknownOutcomeError(Invalid, ValueError):
    """An outcome the current node does not define (422, field ``outcome``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="outcome")


class MissingReasonError(Invalid, ValueError):
    """An action that needs a reason (reject outcome, return) got none (422, field ``reason``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="reason")


class IllegalTransitionError(IllegalTransition):
    """The action is not allowed in the ticket's current state / node (409)."""

    def __init__(self, message: str, *, from_state: str | None = None, action: str | None = None,
                 **extra: Any) -> None:
        super().__init__(message, entity="ticket", from_state=from_state, action=action, **extra)


class ActorNotAllowedError(Forbidden):
    """The actor does not hold the role the node requires, or is not the assignee (403)."""
