"""Base class of the domain's errors (the API maps each subclass to an HTTP status)."""

from __future__ import annotations


class DomainError(Exception):
    """Raised by the pure domain layer; ``code`` is a stable machine-readable reason."""

    code: str = "domain_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
