"""Writing the CRM's events: every one goes through the outbox, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.envelope import Envelope
from backbone.outbox import add_event, add_events
from crm.models import outbox

SOURCE = "crm"


async def emit(session: AsyncSession, payload: BaseModel, *, subject: str) -> Envelope:
    envelope = Envelope.wrap(payload, source=SOURCE, subject=subject)
    await add_event(session, outbox, envelope)
    return envelope




async def emit_all(session: AsyncSession, payloads: Sequence[BaseModel], *, subject: str) -> list[Envelope]:
    """Several events of one aggregate in one statement, in this order (the outbox `seq` keeps it)."""
    envelopes = [Envelope.wrap(p, source=SOURCE, subject=subject) for p in payloads]
    await add_events(session, outbox, envelopes)
    return envelopes


def history_entry(
    from_status: str | None, to_status: str, action: str, by: str, at: datetime, reason: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"from": from_status, "to": to_status, "action": action, "by": by, "at": at.isoformat()}
    if reason:
        entry["reason"] = reason
    entry.update({k: v for k, v in extra.items() if v is not None})
    return entry
