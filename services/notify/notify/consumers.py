"""What notify consumes: SLA alerts (warning, breached, escalated; met is accepted and needs nobody), and
the daily statistics report (stats.report.generated: an e-mail with its CSV attached to the managers)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.consumer import Handler
from backbone.envelope import Envelope
from backbone.events import SlaBreached, SlaEscalated, SlaMet, SlaWarning
from notify.context import NotifyContext
from notify.services.deliveries import queue_alert_messages
from notify.services.reports import queue_report_mail


def make_handlers(context: NotifyContext, on_queued: Callable[[], None] | None = None) -> dict[str, Handler]:
    """`on_queued` runs once after a commit that queued messages (wakes this process's dispatch workers)."""
    settings, directory, templates = context.settings, context.directory, context.templates

    def wake_after_commit(session: AsyncSession) -> None:
        sync = session.sync_session
        if on_queued is None or sync.info.get("notify.wake"):
            return
        sync.info["notify.wake"] = True

        def after_commit(*_: object) -> None:
            sync.info.pop("notify.wake", None)
            on_queued()

        def after_rollback(*_: object) -> None:
            sync.info.pop("notify.wake", None)

        sa_event.listen(sync, "after_commit", after_commit, once=True)
        sa_event.listen(sync, "after_soft_rollback", after_rollback, once=True)

    def alert_handler(model: type[BaseModel]) -> Handler:
        async def handle(session: AsyncSession, event: Envelope) -> None:
            event.payload(model)  # schema check: a broken payload is dead-lettered, not retried
            _, current = await directory.current(session)
            queued = await queue_alert_messages(session, event=event, directory=current, templates=templates,
                                                settings=settings)
            if queued:
                wake_after_commit(session)

        return handle

    async def on_met(session: AsyncSession, event: Envelope) -> None:
        event.payload(SlaMet)  # nobody is notified of a met deadline

    async def on_report(session: AsyncSession, event: Envelope) -> None:
        _, current = await directory.current(session)
        if await queue_report_mail(session, event=event, directory=current, templates=templates, settings=settings):
            wake_after_commit(session)

    return {
        "stats.report.generated": on_report,
        "sla.warning": alert_handler(SlaWarning),
        "sla.breached": alert_handler(SlaBreached),
        "sla.escalated": alert_handler(SlaEscalated),
        "sla.met": on_met,
    }
