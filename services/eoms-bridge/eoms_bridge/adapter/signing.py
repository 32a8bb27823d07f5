"""Signed EOMS callbacks (docs/security.md, item 3): per-partner secrets, HMAC-SHA256 over the timestamp and
the body, a replay window.

A partner (an external EOMS) sends

    X-EOMS-Partner:   its id (configured with its secret: EOMS_CALLBACK_PARTNERS)
    X-EOMS-Timestamp: the Unix time of the request, in seconds
    X-EOMS-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body bytes)>

The bridge answers 401 for a missing header, an unknown partner, a wrong signature (another secret, a
changed body or timestamp), a timestamp further than the window from its clock (stale or from the
future); a signature it has already accepted within the window is refused as a replay
(`eoms_bridge.api.callbacks`, table `eoms_callback_signatures`). The actor of the callback is derived
from the partner, never from the body. Pure functions: no I/O here.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

PARTNER_HEADER = "X-EOMS-Partner"
TIMESTAMP_HEADER = "X-EOMS-Timestamp"
SIGNATURE_HEADER = "X-EOMS-Signature"
SCHEME = "sha256="
#: A partner id: what X-EOMS-Partner carries and the actor id is built from (`eoms:<partner>`).
PARTNER_ID_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class SignatureError(Exception):
    """The request is not a signed callback of a known partner (401)."""


@dataclass(frozen=True)
class SignedRequest:
    partner: str
    timestamp: int
    signature: str  # the hex digest: the replay key

    @property
    def actor_id(self) -> str:
        return actor_id_of(self.partner)


def actor_id_of(partner: str) -> str:
    """Who acts when a partner's callback drives a ticket: `eoms:<partner>` (fits the actor columns)."""
    return f"eoms:{partner}"


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """The `X-EOMS-Signature` value of a request: `sha256=<hex>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return SCHEME + mac.hexdigest()


def signed_headers(partner: str, secret: str, body: bytes, *, now: float) -> dict[str, str]:
    """The three headers a partner sends with `body` (tests, and a reference for partners)."""
    ts = int(now)
    return {PARTNER_HEADER: partner, TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: signature(secret, ts, body)}


def verify(
    secrets: Mapping[str, str], *, partner: str | None, timestamp: str | None, signed: str | None, body: bytes,
    now: float, window_s: int,
) -> SignedRequest:
    """The partner a request is signed by; SignatureError unless every check holds."""
    if not partner or not timestamp or not signed:
        raise SignatureError(f"{PARTNER_HEADER}, {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureError(f"{TIMESTAMP_HEADER} must be Unix time in seconds")
    ts = int(timestamp)
    if abs(now - ts) > window_s:
        raise SignatureError(f"{TIMESTAMP_HEADER} is outside the {window_s} s window (stale or ahead)")
    digest = signed[len(SCHEME):] if signed.startswith(SCHEME) else ""
    secret = secrets.get(partner) if PARTNER_ID_RE.fullmatch(partner) else None
    # An unknown partner and a wrong signature read alike: the answer does not tell which partners exist.
    expected = signature(secret or "", ts, body)[len(SCHEME):]
    if secret is None or not _HEX64.fullmatch(digest) or not hmac.compare_digest(digest, expected):
        raise SignatureError("the signature does not verify")
    return SignedRequest(partner=partner, timestamp=ts, signature=digest)
