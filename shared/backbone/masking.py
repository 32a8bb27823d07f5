"""Masking of phone numbers, e-mail addresses, USCCs and ID-card numbers, for list views, API answers
and every log line.

* ``mask_phone``: a mainland mobile keeps its first 3 and last 4 digits (``138****5678``, with or
  without a +86 / 0086 / 86 prefix, which is dropped); a landline keeps its area code, the last
  4 digits of the subscriber number and its extension (``0571-****1234-8001``); anything else
  keeps at most its last 4 digits (``*******8901``, ``***``). Never raises.
* ``mask_email``: ``zhang.san@example.com`` → ``z***@example.com``; a one-letter local part shows
  nothing (``***@example.com``); not an address → ``***``.
* ``mask_uscc`` / ``mask_id_card``: an 18-character unified social credit code or resident
  identity card number keeps its first 6 and last 4 characters (``913501********0Y43``,
  ``110105********123X``: the birth date of an ID card is hidden).
* ``mask_text`` (alias ``mask_pii``): every mobile, landline, e-mail address, USCC and ID-card
  number found in free text (a mobile's +86 stays where it was written: ``tel +86 139****5678``).
* ``PhoneNumber.masked_as_written``: for screens that show a contact as it was entered
  (``+86 138****5678``); the same digits hidden as ``mask_phone``.
* ``mask_log_record`` (a ``logging`` filter function) and ``PiiMaskingFilter`` apply it to log
  records; ``backbone.logging.JsonFormatter`` applies it to every line. Attach filters to
  *handlers*: a logger's filters do not see records propagated from its children.
* ``parse_phone_number``: the phone grammar the masks rely on (mobiles: ``1[3-9]`` + 9 digits,
  optional +86 / 0086 / 86 prefix, blanks or hyphens; landlines: area code 0xx / 0xxx, a 7-8 digit
  subscriber number starting 2-9, an optional extension after 转 / ext / x / # or a final hyphen
  group). ``None`` for anything else; services that validate input build their errors on it.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "PhoneKind",
    "PhoneNumber",
    "PiiMaskingFilter",
    "mask_email",
    "mask_id_card",
    "mask_log_record",
    "mask_phone",
    "mask_pii",
    "mask_text",
    "mask_uscc",
    "parse_phone_number",
]

MOBILE_RE = re.compile(r"1[3-9]\d{9}")
_AREA_RE = re.compile(r"0(?:10|2\d|[3-9]\d{2})")
_SUBSCRIBER_RE = re.compile(r"[2-9]\d{6,7}")
_EXT_RE = re.compile(r"^(.*?)\s*(?:转|ext\.?|x|#)\s*(\d{1,6})$", re.IGNORECASE)
_SEPARATORS_RE = re.compile(r"[\s\-()（）.]")
_COUNTRY_RE = re.compile(r"^(?:\+86|0086)")


class PhoneKind(StrEnum):
    MOBILE = "mobile"
    LANDLINE = "landline"


@dataclass(frozen=True)
class PhoneNumber:
    kind: PhoneKind
    number: str  # mobile: 11 digits; landline: subscriber digits
    area_code: str = ""
    extension: str = ""
    country_prefix: bool = False

    @property
    def normalized(self) -> str:
        if self.kind is PhoneKind.MOBILE:
            return self.number
        ext = f"-{self.extension}" if self.extension else ""
        return f"{self.area_code}-{self.number}{ext}"

    @property
    def masked(self) -> str:
        if self.kind is PhoneKind.MOBILE:
            return f"{self.number[:3]}****{self.number[-4:]}"
        ext = f"-{self.extension}" if self.extension else ""
        return f"{self.area_code}-{'*' * (len(self.number) - 4)}{self.number[-4:]}{ext}"

    @property
    def masked_as_written(self) -> str:
        """`masked`, keeping a mobile's +86 when it was written with one (the country code is no PII)."""
        return f"+86 {self.masked}" if self.kind is PhoneKind.MOBILE and self.country_prefix else self.masked


def _parse_digits(raw: str, extension: str) -> PhoneNumber | None:
    country = False
    m = _COUNTRY_RE.match(raw)
    if m:
        country, raw = True, raw[m.end() :]
    if not raw.isdigit() or not raw.isascii():
        return None
    if country or (raw.startswith("86") and len(raw) == 13):
        if MOBILE_RE.fullmatch(raw[2:] if not country else raw) and not extension:
            return PhoneNumber(PhoneKind.MOBILE, raw if country else raw[2:], country_prefix=True)
        if country and not raw.startswith("0"):
            raw = "0" + raw  # international form drops the trunk prefix 0
    if not country and MOBILE_RE.fullmatch(raw) and not extension:
        return PhoneNumber(PhoneKind.MOBILE, raw)
    area = _AREA_RE.match(raw)
    if area and _SUBSCRIBER_RE.fullmatch(raw[area.end() :]):
        return PhoneNumber(PhoneKind.LANDLINE, raw[area.end() :], area_code=area.group(), extension=extension)
    return None


def parse_phone_number(phone: str) -> PhoneNumber | None:
    """A mainland mobile or landline number, or None."""
    if not isinstance(phone, str) or not phone.strip():
        return None
    text = unicodedata.normalize("NFKC", phone).strip()
    extension = ""
    m = _EXT_RE.match(text)
    if m:
        text, extension = m.group(1), m.group(2)
    parsed = _parse_digits(_SEPARATORS_RE.sub("", text), extension)
    if parsed is None and not extension:
        # "0571-88881234-8001": the last hyphen group may be an extension
        head, sep, tail = text.rpartition("-")
        if sep and tail.strip().isdigit() and 1 <= len(tail.strip()) <= 6:
            parsed = _parse_digits(_SEPARATORS_RE.sub("", head), tail.strip())
            if parsed is not None and parsed.kind is not PhoneKind.LANDLINE:
                parsed = None
    return parsed


def mask_phone(phone: str) -> str:
    """``138****5678`` / ``010-****5678``; something else keeps at most its last 4 digits. Never raises."""
    parsed = parse_phone_number(phone)
    if parsed is not None:
        return parsed.masked
    digits = [c for c in str(phone) if c.isdigit()]
    keep = 4 if len(digits) > 6 else 0
    return "*" * (len(digits) - keep) + "".join(digits[len(digits) - keep :]) or "***"


def mask_email(email: str) -> str:
    """``zhang.san@example.com`` -> ``z***@example.com``; never raises."""
    local, at, domain = str(email).strip().rpartition("@")
    if not at or not local or not domain:
        return "***"
    return f"{local[0] if len(local) > 1 else ''}***@{domain}"


_EMAIL_TEXT_RE = re.compile(
    r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9._%+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
)
_MOBILE_TEXT_RE = re.compile(
    r"(?<![0-9A-Za-z+])((?:\+86|0086|86)[\s-]?)?(1[3-9]\d)[\s-]?\d{4}[\s-]?(\d{4})(?![0-9A-Za-z])"
)
_LANDLINE_TEXT_RE = re.compile(
    r"(?<![0-9A-Za-z])(\(0\d{2,3}\)\s?|（0\d{2,3}）\s?|0\d{2,3}[\s-])"
    r"([1-9]\d{2,3}[\s-]?)(\d{4})(?![0-9A-Za-z])"
)


# Resident identity card (GB 11643): 6-digit region, birth date 18xx-20xx, 3-digit sequence, check digit or X.
_ID_CARD_TEXT_RE = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])"
)
# Unified social credit code (GB 32100): registration authority, organisation kind, 6-digit region,
# 9-character organisation code, check character; the alphabet has no I, O, S, V, Z.
_USCC_ALPHABET = "0-9A-HJ-NPQRTUWXY"
_USCC_TEXT_RE = re.compile(
    rf"(?<![0-9A-Za-z])[1-9A-GY][1-9]\d{{6}}[{_USCC_ALPHABET}]{{10}}(?![0-9A-Za-z])"
)


def _mask_18(value: str) -> str:
    return f"{value[:6]}{'*' * 8}{value[-4:]}"


def mask_id_card(number: str) -> str:
    """``110105199001011234`` -> ``110105********1234``; anything else keeps at most its last 4 characters."""
    value = str(number).strip()
    if _ID_CARD_TEXT_RE.fullmatch(value):
        return _mask_18(value)
    return "*" * max(0, len(value) - 4) + value[-4:] if len(value) > 6 else "***"


def mask_uscc(code: str) -> str:
    """``91350100M000100Y43`` -> ``913501********0Y43``; anything else keeps at most its last 4 characters."""
    value = str(code).strip().upper()
    if _USCC_TEXT_RE.fullmatch(value):
        return _mask_18(value)
    return "*" * max(0, len(value) - 4) + value[-4:] if len(value) > 6 else "***"


def mask_text(text: str) -> str:
    """Mask every mobile / landline number, e-mail address, ID-card number and USCC found in free text."""
    text = _ID_CARD_TEXT_RE.sub(lambda m: _mask_18(m.group(0)), text)
    text = _USCC_TEXT_RE.sub(lambda m: _mask_18(m.group(0)), text)
    text = _EMAIL_TEXT_RE.sub(lambda m: mask_email(m.group(0)), text)
    text = _MOBILE_TEXT_RE.sub(lambda m: f"{'+86 ' if m.group(1) else ''}{m.group(2)}****{m.group(3)}", text)
    return _LANDLINE_TEXT_RE.sub(
        lambda m: f"{m.group(1)}{'*' * sum(c.isdigit() for c in m.group(2))}{m.group(3)}", text
    )


mask_pii = mask_text


def mask_log_record(record: logging.LogRecord) -> bool:
    """A ``logging`` filter (``handler.addFilter(mask_log_record)``): mask the message in place."""
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        message = str(record.msg)
    record.msg = mask_text(message)
    record.args = None
    if record.exc_text:
        record.exc_text = mask_text(record.exc_text)
    return True


class PiiMaskingFilter(logging.Filter):
    """Class form of ``mask_log_record`` (for dictConfig)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return mask_log_record(record)
