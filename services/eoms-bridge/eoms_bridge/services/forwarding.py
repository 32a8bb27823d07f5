"""The forward queue (adapter mode): messages for the external EOMS, written in the transaction of
the change that caused them; `eoms_bridge.adapter.forwarder` delivers them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from eoms_bridge.models import forward_queue


async def enqueue(session: AsyncSession, *, ticket_id: str, message_type: str, payload: dict[str, Any]) -> None:
    await session.execute(
        forward_queue.insert().values(ticket_id=ticket_id, message_type=message_type,
                                      payload={"type": message_type, **payload})
    )
