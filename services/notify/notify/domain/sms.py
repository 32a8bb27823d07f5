"""SMS encoding and segmentation (pure).

* GSM-7 (SMPP ``data_coding`` 0, SMSC default alphabet, one septet per octet) when every character
  is in the GSM 03.38 default alphabet or its extension table (extension characters cost two
  septets: ESC + code). Limits: 160 septets single, 153 per part of a concatenated message.
* Otherwise UCS-2 (``data_coding`` 8, big-endian UTF-16 on the wire). Limits: 70 code units
  single, 67 per part. A character outside the BMP is a surrogate pair (two units) and is never
  split across parts; likewise a GSM-7 escape sequence is never split.
* A long message is split with a concatenation UDH ``05 00 03 ref total seq`` and the SMPP
  ``esm_class`` UDHI bit (0x40) set.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# GSM 03.38 default alphabet, index == septet value. Index 0x1B is the escape to the extension table.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
assert len(GSM7_BASIC) == 128
GSM7_ESCAPE = 0x1B
GSM7_EXTENSION: dict[str, int] = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
_BASIC_INDEX: dict[str, int] = {ch: i for i, ch in enumerate(GSM7_BASIC) if i != GSM7_ESCAPE}
_EXTENSION_REVERSE: dict[int, str] = {v: k for k, v in GSM7_EXTENSION.items()}
# The same tables for C-speed string operations (every SMS is measured when rendered and encoded when sent).
_GSM7_CHARS = frozenset(_BASIC_INDEX) | frozenset(GSM7_EXTENSION)
_GSM7_SEPTETS = str.maketrans({**{ch: chr(i) for ch, i in _BASIC_INDEX.items()},
                               **{ch: chr(GSM7_ESCAPE) + chr(v) for ch, v in GSM7_EXTENSION.items()}})

DATA_CODING_DEFAULT = 0x00
DATA_CODING_UCS2 = 0x08
ESM_CLASS_UDHI = 0x40

GSM7_SINGLE_LIMIT = 160
GSM7_PART_LIMIT = 153
UCS2_SINGLE_LIMIT = 70
UCS2_PART_LIMIT = 67
MAX_PARTS = 255


class SmsEncoding(StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"

    @property
    def data_coding(self) -> int:
        return DATA_CODING_DEFAULT if self is SmsEncoding.GSM7 else DATA_CODING_UCS2

    @property
    def single_limit(self) -> int:
        return GSM7_SINGLE_LIMIT if self is SmsEncoding.GSM7 else UCS2_SINGLE_LIMIT

    @property
    def part_limit(self) -> int:
        return GSM7_PART_LIMIT if self is SmsEncoding.GSM7 else UCS2_PART_LIMIT


@dataclass(frozen=True, slots=True)
class ConcatInfo:
    ref: int
    total: int
    seq: int


@dataclass(frozen=True, slots=True)
class SmsPart:
    """One short message as it goes into a submit_sm: ``payload`` is ``short_message``."""

    text: str
    payload: bytes
    data_coding: int
    esm_class: int
    concat: ConcatInfo | None

    @property
    def units(self) -> int:
        enc = SmsEncoding.GSM7 if self.data_coding == DATA_CODING_DEFAULT else SmsEncoding.UCS2
        return unit_length(self.text, enc)


@dataclass(frozen=True, slots=True)
class SmsMessage:
    text: str
    encoding: SmsEncoding
    parts: tuple[SmsPart, ...]

    @property
    def data_coding(self) -> int:
        return self.encoding.data_coding


def is_gsm7(text: str) -> bool:
    return _GSM7_CHARS.issuperset(text)


def detect_encoding(text: str) -> SmsEncoding:
    return SmsEncoding.GSM7 if is_gsm7(text) else SmsEncoding.UCS2


def char_units(ch: str, encoding: SmsEncoding) -> int:
    if encoding is SmsEncoding.GSM7:
        return 2 if ch in GSM7_EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1


def unit_length(text: str, encoding: SmsEncoding | None = None) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) the text needs."""
    enc = encoding or detect_encoding(text)
    if enc is SmsEncoding.GSM7:  # the sum of `char_units`, counted by str methods
        return len(text) + sum(text.count(ch) for ch in GSM7_EXTENSION)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def split_text(text: str, encoding: SmsEncoding | None = None) -> list[str]:
    """Split ``text`` into the texts of its parts (one element when it fits a single SMS)."""
    enc = encoding or detect_encoding(text)
    units = unit_length(text, enc)
    if units <= enc.single_limit:
        return [text]
    limit = enc.part_limit
    if units == len(text):  # one unit per character (no escape, no surrogate pair): plain slices
        return [text[i:i + limit] for i in range(0, len(text), limit)]
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for ch in text:  # iterating code points keeps surrogate pairs and escapes whole
        cost = char_units(ch, enc)
        if used + cost > limit:
            parts.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += cost
    if current:
        parts.append("".join(current))
    return parts


def count_parts(text: str) -> int:
    return len(split_text(text))


def encode_text(text: str, encoding: SmsEncoding) -> bytes:
    if encoding is SmsEncoding.UCS2:
        return text.encode("utf-16-be")
    if not is_gsm7(text):
        bad = next(ch for ch in text if ch not in _GSM7_CHARS)
        raise ValueError(f"character {bad!r} is not in the GSM 03.38 alphabet")
    return text.translate(_GSM7_SEPTETS).encode("latin-1")  # one septet value per byte, escapes as two


def decode_text(data: bytes, data_coding: int) -> str:
    if data_coding == DATA_CODING_UCS2:
        return data.decode("utf-16-be", errors="surrogatepass")
    if data_coding != DATA_CODING_DEFAULT:
        return data.decode("latin-1")
    out: list[str] = []
    escape = False
    for b in data:
        if escape:
            out.append(_EXTENSION_REVERSE.get(b, " "))
            escape = False
        elif b == GSM7_ESCAPE:
            escape = True
        else:
            out.append(GSM7_BASIC[b & 0x7F])
    return "".join(out)


def build_concat_udh(ref: int, total: int, seq: int) -> bytes:
    if not (0 <= ref <= 255 and 1 <= seq <= total <= MAX_PARTS):
        raise ValueError(f"bad concatenation header ref={ref} total={total} seq={seq}")
    return bytes((0x05, 0x00, 0x03, ref, total, seq))


def parse_udh(payload: bytes) -> tuple[ConcatInfo | None, bytes]:
    """Strip the UDH from a UDHI payload; return the concatenation info (IEI 00 or 08) and body."""
    if not payload:
        return None, payload
    udhl = payload[0]
    header, body = payload[1 : 1 + udhl], payload[1 + udhl :]
    concat: ConcatInfo | None = None
    i = 0
    while i + 2 <= len(header):
        iei, length = header[i], header[i + 1]
        value = header[i + 2 : i + 2 + length]
        if iei == 0x00 and length == 3:
            concat = ConcatInfo(ref=value[0], total=value[1], seq=value[2])
        elif iei == 0x08 and length == 4:
            concat = ConcatInfo(ref=(value[0] << 8) | value[1], total=value[2], seq=value[3])
        i += 2 + length
    return concat, body


def segment(text: str, ref: int = 0) -> SmsMessage:
    """Encode ``text`` into the short messages to submit; ``ref`` is the 8-bit concatenation ref."""
    enc = detect_encoding(text)
    texts = split_text(text, enc)
    if len(texts) > MAX_PARTS:
        raise ValueError(f"message needs {len(texts)} parts, more than {MAX_PARTS}")
    if len(texts) == 1:
        part = SmsPart(text, encode_text(text, enc), enc.data_coding, 0, None)
        return SmsMessage(text, enc, (part,))
    total = len(texts)
    parts = tuple(
        SmsPart(
            text=t,
            payload=build_concat_udh(ref & 0xFF, total, i) + encode_text(t, enc),
            data_coding=enc.data_coding,
            esm_class=ESM_CLASS_UDHI,
            concat=ConcatInfo(ref & 0xFF, total, i),
        )
        for i, t in enumerate(texts, start=1)
    )
    return SmsMessage(text, enc, parts)


def decode_part(payload: bytes, data_coding: int, esm_class: int) -> tuple[ConcatInfo | None, str]:
    """Inverse of :func:`segment` for one short message (used by the SMSC simulator)."""
    concat: ConcatInfo | None = None
    body = payload
    if esm_class & ESM_CLASS_UDHI:
        concat, body = parse_udh(payload)
    return concat, decode_text(body, data_coding)


def reassemble(parts: list[SmsPart]) -> str:
    ordered = sorted(parts, key=lambda p: p.concat.seq if p.concat else 0)
    return "".join(decode_part(p.payload, p.data_coding, p.esm_class)[1] for p in ordered)
