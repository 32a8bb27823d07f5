"""What notify consumes: SLA alerts (warning, breached, escalated; met is accepted and needs nobody)."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.consumer import Handler
from backbone.envelope import Envelope
from backbone.events import SlaBreached, SlaEscalated, SlaMet, SlaWarning
from notify.domain.templates import TemplateStore
from notify.services.deliveries import queue_alert_messages
from notify.services.directory import DirectoryCache
from notify.settings import NotifySettings


def make_handlers(settings: NotifySettings, directory: DirectoryCache, templates: TemplateStore) -> dict[str, Handler]:
    def alert_handler(model: type[BaseModel]) -> Handler:
        async def handle(session: AsyncSession, event: Envelope) -> None:
            event.payload(model)  # schema check: a broken payload is dead-lettered, not retried
            _, current = await directory.current(session)
            await queue_alert_messages(session, event=event, directory=current, templates=templates, settings=settings)

        return handle

    async def on_met(session: AsyncSession, event: Envelope) -> None:
        event.payload(SlaMet)  # nobody is notified of a met deadline

    return {
        "sla.warning": alert_handler(SlaWarning),
        "sla.breached": alert_handler(SlaBreached),
        "sla.escalated": alert_handler(SlaEscalated),
        "sla.met": on_met,
    }
