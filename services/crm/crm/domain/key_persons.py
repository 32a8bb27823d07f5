"""Key persons (关键人物) of a customer: four kinds, phone / e-mail validated, masked views."""

from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator

from backbone.masking import mask_email, mask_phone
from backbone.shapes import ClosedModel, FrozenModel
from crm.domain.contacts import InvalidEmail, InvalidPhone, validate_email, validate_phone
from crm.domain.vocabulary import KeyPersonKind

__all__ = ["KeyPerson", "KeyPersonKind", "MaskedKeyPerson"]


class KeyPerson(ClosedModel):
    """A key person; ``phone`` and ``email`` are validated and stored normalised.

    ``InvalidPhone`` / ``InvalidEmail`` raised by the validators surface as pydantic
    ``ValidationError`` entries on ``phone`` / ``email``.
    """

    model_config = ConfigDict(str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=100)
    kind: KeyPersonKind
    title: str | None = Field(default=None, max_length=100)
    phone: str | None = None
    email: str | None = None

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            return validate_phone(v)
        except InvalidPhone as exc:  # -> a pydantic error carrying its message
            raise ValueError(str(exc)) from None

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            return validate_email(v)
        except InvalidEmail as exc:
            raise ValueError(str(exc)) from None

    def masked(self) -> MaskedKeyPerson:
        return MaskedKeyPerson(
            name=self.name,
            kind=self.kind,
            title=self.title,
            phone=mask_phone(self.phone) if self.phone else None,
            email=mask_email(self.email) if self.email else None,
        )


class MaskedKeyPerson(FrozenModel):
    """What list views and logs show of a key person."""

    name: str
    kind: KeyPersonKind
    title: str | None = None
    phone: str | None = None
    email: str | None = None
