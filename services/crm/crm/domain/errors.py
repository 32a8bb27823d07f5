"""The CRM's domain errors, on the suite's one error model (`backbone.errors`).

The app factory maps every one of them to problem+json from its kind (status), `title`, message
(detail), `errors` (`[{field, message, …}]`), `code` and extra members; nothing in the CRM maps
errors to HTTP itself.
"""

from __future__ import annotations

from typing import Any

from backbone.errors import Invalid, NotFound


class DomainError(Invalid):
    """Base of the CRM's own rule violations (422 unless a subclass takes another kind); ``code`` is a
    stable machine-readable reason."""

    code = "domain_error"


class InvalidField(DomainError):
    """One input is wrong: detail ``<field>: <message>``, and ``errors`` naming it (with ``details``, e.g. a
    USCC's ``reason`` and ``position``)."""

    code = "invalid_field"

    def __init__(self, field: str, message: str, *, code: str | None = None, **details: Any) -> None:
        entry: dict[str, Any] = {"field": field, "message": message, **details}
        super().__init__(f"{field}: {message}", errors=[entry], code=code)


class EntityNotFound(NotFound):
    """No such customer, order, … or not one the actor may see: the same 404 for both, naming the field
    (the path parameter ``<entity>_id`` unless told)."""

    def __init__(self, entity: str, ident: str, field: str | None = None) -> None:
        field = field or entity.replace(" ", "_") + "_id"
        super().__init__(f"{entity} {ident} not found", errors=[{"field": field, "message": f"unknown {entity}"}])
        self.entity = entity
        self.ident = ident
