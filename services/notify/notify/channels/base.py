"""What every channel adapter offers the dispatch workers: one send of one delivery row.

A channel (`email.py`: SMTP, `sms.py`: SMPP) turns a claimed `deliveries` row into a message at
its server and answers with what the server accepted (`Sent`). It raises one of its
`permanent_errors` when the server refused for good (retrying cannot help: the row fails at once);
one of its `unreachable_errors` when its server could not be reached (refused, dropped, timed out:
the message is not to blame, so the try does not count against MAX_SEND_ATTEMPTS and the row waits
out the outage, up to SEND_UNREACHABLE_WINDOW_S after it was queued); any other exception is
transient (the row is retried later, with backoff, at most MAX_SEND_ATTEMPTS times).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

ChannelName = Literal["email", "sms"]
Row = Mapping[str, Any]


class PermanentSendError(Exception):
    """The server refused for good (e.g. SMTP 5xx): retrying would not help."""


@dataclass(frozen=True)
class Sent:
    """What the server accepted for one delivery."""

    provider_id: str  # the server's message id (SMS: one per part, comma-separated)
    summary: str  # for the log line: the masked address and what went
    # SMS: the last part's (number, SMSC id), recorded in the same commit as `sent` (None: already recorded)
    last_part: tuple[int, str] | None = None


class Channel(Protocol):
    name: ChannelName
    permanent_errors: tuple[type[Exception], ...]
    unreachable_errors: tuple[type[BaseException], ...]

    async def send(self, row: Row) -> Sent:
        """Send the message of one claimed row (status `sending`); returns once the server accepted it."""
        ...
