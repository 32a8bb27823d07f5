"""The suite's one error model: domain errors raised by the domain and the use cases.

Use cases know nothing of HTTP. They raise a `DomainError` subclass whose `kind` says what went
wrong in business terms (the request is invalid, the thing does not exist, the state forbids it,
the actor may not, a dependency is down); the app factory (`backbone.problems`) maps the kind to an
HTTP status and the error to an RFC 9457 problem, once, for every service.

    class TicketNotFound(NotFound): ...
    raise TicketNotFound(f"no ticket {ticket_id}")
    raise Invalid("outcome 'x' is not defined on this node", field="outcome")
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class ErrorKind(StrEnum):
    INVALID = "invalid"  # the request breaks a rule of the domain (HTTP 422)
    NOT_FOUND = "not_found"  # no such thing, or not one the actor may see (404)
    CONFLICT = "conflict"  # the current state forbids it (409)
    FORBIDDEN = "forbidden"  # the actor may not do this (403)
    UNAVAILABLE = "unavailable"  # a dependency is down; retry later (503)


class DomainError(Exception):
    """Base of every error the domain and the use cases raise.

    - `kind` (class-level) decides the HTTP status; `title` the problem's title.
    - `code` is a stable machine-readable reason (clients switch on it).
    - `field` names the input that is wrong; `errors` lists several (`[{field, message}]`).
    - `extra` members travel in the problem body (e.g. `from_state`, `action`).
    """

    kind: ClassVar[ErrorKind] = ErrorKind.INVALID
    title: ClassVar[str | None] = None
    code: str = "domain_error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        errors: list[dict[str, str]] | None = None,
        code: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self._errors = errors
        if code is not None:
            self.code = code
        self.extra = extra

    @property
    def errors(self) -> list[dict[str, str]] | None:
        if self._errors is not None:
            return self._errors
        return [{"field": self.field, "message": self.message}] if self.field else None


class Invalid(DomainError):
    kind = ErrorKind.INVALID


class NotFound(DomainError):
    kind = ErrorKind.NOT_FOUND
    code = "not_found"


class Conflict(DomainError):
    kind = ErrorKind.CONFLICT
    code = "conflict"


class Forbidden(DomainError):
    kind = ErrorKind.FORBIDDEN
    code = "forbidden"


class Unavailable(DomainError):
    kind = ErrorKind.UNAVAILABLE
    code = "unavailable"


class IllegalTransition(Conflict):
    """A lifecycle step the current state does not allow (orders, tickets, timers, complaints)."""

    title = "Illegal transition"
    code = "illegal_transition"

    def __init__(
        self,
        message: str,
        *,
        entity: str | None = None,
        from_state: str | None = None,
        action: str | None = None,
        field: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message, field=field, **extra)
        self.entity = entity
        self.from_state = from_state
        self.action = action
        self.extra.update(
            {k: v for k, v in (("entity", entity), ("from_state", from_state), ("action", action)) if v is not None}
        )
