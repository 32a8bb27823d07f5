"""Wires notify: settings → runtime → alert consumer + delivery dispatcher."""

from __future__ import annotations

import asyncio
import logging

from backbone.runtime import ServiceRuntime
from backbone.topics import SLA_ALERTS
from notify.consumers import make_handlers
from notify.models import metadata
from notify.services.deliveries import Dispatcher
from notify.settings import NotifySettings

log = logging.getLogger("notify.dispatcher")


def bootstrap(settings: NotifySettings | None = None) -> ServiceRuntime:
    settings = settings or NotifySettings()
    runtime = ServiceRuntime.create(settings, metadata)
    runtime.add_consumer(topics=[SLA_ALERTS], handlers=make_handlers(settings))
    dispatcher = Dispatcher(runtime.session_factory, settings)

    async def dispatch_deliveries() -> None:
        while True:
            try:
                sent = await dispatcher.dispatch_once()
            except Exception:
                log.exception("dispatch failed")
                sent = 0
            if sent == 0:
                await asyncio.sleep(settings.dispatch_interval_s)

    runtime.loops.append(dispatch_deliveries)
    return runtime
