"""The status history kept on orders and complaints: one entry per transition."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def history_entry(
    from_status: str | None, to_status: str, action: str, by: str, at: datetime, reason: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """``{from, to, action, by, at[, reason][, extra…]}`` (extra members only when not None, e.g. ``ticket_id``)."""
    entry: dict[str, Any] = {"from": from_status, "to": to_status, "action": action, "by": by, "at": at.isoformat()}
    if reason:
        entry["reason"] = reason
    entry.update({k: v for k, v in extra.items() if v is not None})
    return entry
