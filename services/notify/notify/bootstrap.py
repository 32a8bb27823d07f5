"""Wires notify: settings → runtime → alert consumer, dispatch workers, SMPP session, digests, recovery."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from backbone.runtime import ServiceRuntime
from backbone.topics import SLA_ALERTS
from notify.channels.email import SmtpSender
from notify.consumers import make_handlers
from notify.domain.templates import load_templates
from notify.models import metadata
from notify.services.deliveries import people_with_pending_digests, queue_digest
from notify.services.directory import DirectoryCache
from notify.services.dispatch import Dispatcher, keep_smpp_session
from notify.settings import NotifySettings
from notify.smpp.client import SmppClient

log = logging.getLogger("notify")


def bootstrap(settings: NotifySettings | None = None) -> ServiceRuntime:
    settings = settings or NotifySettings()
    runtime = ServiceRuntime.create(settings, metadata)
    directory = DirectoryCache(settings.directory_file)
    templates = load_templates(settings.templates_dir, max_sms_parts=settings.max_sms_parts)
    smtp = SmtpSender(settings.smtp_url, settings.mail_from)
    dispatcher = Dispatcher(runtime.engine, runtime.session_factory, settings, smtp=smtp, sms=None)
    runtime.add_consumer(topics=[SLA_ALERTS],
                         handlers=make_handlers(settings, directory, templates, on_queued=dispatcher.wake))
    if settings.smpp_url:
        # One long-lived SMPP session per process; receipts update the delivery rows.
        dispatcher.sms = SmppClient(settings.smpp_url, on_dlr=dispatcher.on_dlr,
                                    submit_timeout=settings.smpp_submit_timeout_s)
        sms_client = dispatcher.sms

        async def smpp_session() -> None:
            await keep_smpp_session(sms_client)

        runtime.loops.append(smpp_session)

    async def digests() -> None:
        while True:
            try:
                async with runtime.session_factory() as session:
                    people = await people_with_pending_digests(session)
                for person_id in people:
                    async with runtime.session_factory() as session, session.begin():
                        _, current = await directory.current(session)
                        carried = await queue_digest(session, person_id=person_id, directory=current,
                                                     templates=templates, settings=settings)
                    if carried:
                        dispatcher.wake()
            except Exception:
                log.exception("digest pass failed")
            await asyncio.sleep(settings.digest_interval_s)

    async def dispatch() -> None:
        await dispatcher.recover()
        # The first worker of a channel also polls (rows of other instances, retries coming due).
        workers = [dispatcher.worker("email", poller=i == 0) for i in range(settings.email_workers)]
        workers += [dispatcher.worker("sms", poller=i == 0) for i in range(settings.sms_workers)]
        try:
            await asyncio.gather(*workers)
        finally:
            await smtp.close()

    loops: list[Callable[[], Awaitable[None]]] = [
        dispatcher.hold_liveness_lock, dispatch, dispatcher.recovery_loop, digests,
    ]
    runtime.loops.extend(loops)
    runtime.dispatcher = dispatcher  # type: ignore[attr-defined]
    runtime.directory = directory  # type: ignore[attr-defined]
    runtime.templates = templates  # type: ignore[attr-defined]
    return runtime
