"""What notify consumes: SLA alerts."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from backbone.consumer import Handler
from backbone.envelope import Envelope
from backbone.events import SlaBreached
from notify.services.deliveries import queue_alert_messages
from notify.settings import NotifySettings


def make_handlers(settings: NotifySettings) -> dict[str, Handler]:
    async def on_breached(session: AsyncSession, event: Envelope) -> None:
        await queue_alert_messages(session, event=event, alert=event.payload(SlaBreached), settings=settings)

    return {"sla.breached": on_breached}
