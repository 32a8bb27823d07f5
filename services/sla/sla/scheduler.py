"""The due-timer scanner: an indexed scan of `next_fire_at`, in batches, every `scan_interval_s`.

Each batch is one transaction (rows taken with FOR UPDATE SKIP LOCKED, fired marks, alert rows and
outbox rows committed together). A full batch means more is due: the next one starts at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from backbone.runtime import ServiceRuntime
from sla.services.timers import fire_due_timers
from sla.settings import SlaSettings

log = logging.getLogger("sla.scheduler")


def make_scanner(runtime: ServiceRuntime, settings: SlaSettings) -> Callable[[], Awaitable[None]]:
    async def scan_due_timers() -> None:
        while True:
            try:
                async with runtime.session_factory() as session, session.begin():
                    taken = await fire_due_timers(session, now=datetime.now(UTC), batch_size=settings.scan_batch_size,
                                                  fired_by=settings.instance_id)
            except Exception:
                log.exception("due-timer scan failed")
                taken = 0
            if taken < settings.scan_batch_size:
                await asyncio.sleep(settings.scan_interval_s)

    return scan_due_timers
