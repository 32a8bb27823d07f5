"""The signature on every hub callback, and how a listener checks it.

Every callback carries:

- `X-Hub-Event-Id`: the TMF eventId (the same on every attempt and redelivery: deduplicate on it);
- `X-Hub-Timestamp`: Unix seconds when this attempt was signed;
- `X-Hub-Signature`: `sha256=` + hex HMAC-SHA256, keyed with the subscription's secret, over the bytes
  `<timestamp>.<body>` (the timestamp, a dot, then the raw request body, unparsed).

A listener recomputes the HMAC over the raw body, compares in constant time, refuses a timestamp
more than `tolerance_s` (300 s) away from its clock (a captured request replayed later fails), and
remembers event ids it has processed for at least that long (a replay inside the window, or a
redelivery, is then a no-op). `verify` below is that check.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

SIGNATURE_HEADER = "X-Hub-Signature"
TIMESTAMP_HEADER = "X-Hub-Timestamp"
EVENT_ID_HEADER = "X-Hub-Event-Id"
EVENT_TYPE_HEADER = "X-Hub-Event-Type"
DELIVERY_HEADER = "X-Hub-Delivery-Id"
ATTEMPT_HEADER = "X-Hub-Attempt"
SCHEME = "sha256="
DEFAULT_TOLERANCE_S = 300


class SignatureError(Exception):
    """The callback's signature does not hold (missing header, wrong HMAC, timestamp out of tolerance)."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Hub-Signature` value of `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return SCHEME + mac.hexdigest()


def signed_headers(secret: str, body: bytes, *, event_id: str, event_type: str, timestamp: int | None = None
                   ) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        EVENT_ID_HEADER: event_id,
        EVENT_TYPE_HEADER: event_type,
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: sign(secret, ts, body),
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def verify(secret: str, body: bytes, headers: Mapping[str, str], *, now: float | None = None,
           tolerance_s: float = DEFAULT_TOLERANCE_S) -> int:
    """Check a callback as a listener would; returns its timestamp, raises `SignatureError` otherwise."""
    raw_ts = _header(headers, TIMESTAMP_HEADER)
    given = _header(headers, SIGNATURE_HEADER)
    if raw_ts is None or given is None:
        raise SignatureError("missing X-Hub-Timestamp or X-Hub-Signature")
    try:
        ts = int(raw_ts)
    except ValueError:
        raise SignatureError("X-Hub-Timestamp is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        raise SignatureError(f"timestamp {ts} is more than {tolerance_s:.0f}s from now: a replay or a skewed clock")
    if not hmac.compare_digest(sign(secret, ts, body), given):
        raise SignatureError("signature mismatch")
    return ts
