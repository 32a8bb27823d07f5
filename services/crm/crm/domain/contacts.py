"""Phone / e-mail validation of contact data (key persons). Masking lives in ``backbone.masking``.

* ``validate_phone`` accepts mainland mobiles (``1[3-9]`` + 9 digits, optionally with a
  +86 / 0086 / 86 prefix and blanks or hyphens) and landlines (area code 0xx / 0xxx, a 7-8
  digit subscriber number starting 2-9, an optional extension after 转 / ext / x / # or a
  final hyphen group) and returns a normalised form: ``13812345678``, ``010-12345678``,
  ``0571-88881234-8001``.
* ``validate_email`` normalises an address (no DNS lookup).
"""

from __future__ import annotations

from email_validator import EmailNotValidError
from email_validator import validate_email as _validate_email

from backbone.masking import PhoneKind, PhoneNumber, mask_text, parse_phone_number
from backbone.masking import mask_phone as backbone_mask_phone
from crm.domain.errors import DomainError


class InvalidPhone(DomainError):
    code = "invalid_phone"


class InvalidEmail(DomainError):
    code = "invalid_email"


def parse_phone(phone: str) -> PhoneNumber:
    """Parse a mainland mobile or landline number; raise ``InvalidPhone``."""
    if not isinstance(phone, str) or not phone.strip():
        raise InvalidPhone("the phone number is empty")
    parsed = parse_phone_number(phone)
    if parsed is None:
        raise InvalidPhone(
            f"{mask_text(phone)!s} is neither a mainland mobile number (1[3-9] and 9 digits) "
            "nor a landline with area code (0xx/0xxx and 7-8 digits)"
        )
    return parsed


def validate_phone(phone: str) -> str:
    """The normalised phone number, or ``InvalidPhone``."""
    return parse_phone(phone).normalized


def mask_phone(phone: str) -> str:
    """A contact's number masked as it was written (``+86 138****5678``): for the CRM's own screens.

    The same digits stay hidden as with `backbone.masking.mask_phone`, which logs and messages use.
    """
    parsed = parse_phone_number(phone)
    return parsed.masked_as_written if parsed is not None else backbone_mask_phone(phone)


def is_mobile(phone: str) -> bool:
    parsed = parse_phone_number(phone)
    return parsed is not None and parsed.kind is PhoneKind.MOBILE


def validate_email(email: str) -> str:
    """The normalised e-mail address (no DNS lookup), or ``InvalidEmail``."""
    if not isinstance(email, str) or not email.strip():
        raise InvalidEmail("the e-mail address is empty")
    try:
        return _validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidEmail(f"invalid e-mail address: {exc}") from None
