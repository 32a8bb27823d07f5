"""What notify consumes: SLA alerts (warning, breached, escalated; met is accepted and needs nobody), and
the daily statistics report (stats.report.generated: an e-mail with its CSV attached to the managers)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.consumer import BatchApplier, Handler
from backbone.envelope import Envelope
from backbone.events import SlaBreached, SlaEscalated, SlaMet, SlaWarning
from notify.context import NotifyContext
from notify.services.alert_runs import queue_alert_run
from notify.services.deliveries import queue_alert_messages
from notify.services.reports import queue_report_mail

_ALERTS: dict[str, type[BaseModel]] = {"sla.warning": SlaWarning, "sla.breached": SlaBreached,
                                       "sla.escalated": SlaEscalated}


def _waker(on_queued: Callable[[], None] | None) -> Callable[[AsyncSession], None]:
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

    return wake_after_commit


def make_run_applier(context: NotifyContext, handlers: dict[str, Handler],
                     on_queued: Callable[[], None] | None = None) -> BatchApplier:
    """The consumer's `apply_run`: a run's alerts queued set-based (`services/alert_runs.py`), any other
    event through its handler. A broken alert payload raises: the run falls back to event by event."""
    wake_after_commit = _waker(on_queued)

    async def apply_run(session: AsyncSession, events: Sequence[Envelope]) -> None:
        alerts = []
        for event in events:
            model = _ALERTS.get(event.type)
            if model is None:
                await handlers[event.type](session, event)
            else:
                event.payload(model)  # schema check
                alerts.append(event)
        if alerts:
            _, current = await context.directory.current(session)
            if await queue_alert_run(session, events=alerts, directory=current, templates=context.templates,
                                     settings=context.settings):
                wake_after_commit(session)

    return apply_run


def make_handlers(context: NotifyContext, on_queued: Callable[[], None] | None = None) -> dict[str, Handler]:
    """`on_queued` runs once after a commit that queued messages (wakes this process's dispatch workers)."""
    settings, directory, templates = context.settings, context.directory, context.templates
    wake_after_commit = _waker(on_queued)

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
        **{event_type: alert_handler(model) for event_type, model in _ALERTS.items()},
        "sla.met": on_met,
    }
