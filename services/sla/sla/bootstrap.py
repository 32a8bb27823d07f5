"""Wires the SLA service: settings → runtime → ticket-event consumer + due-timer scanner."""

from __future__ import annotations

from backbone.runtime import ServiceRuntime
from backbone.topics import EOMS_TICKETS
from sla.consumers import make_handlers
from sla.models import metadata
from sla.scheduler import make_scanner
from sla.settings import SlaSettings


def bootstrap(settings: SlaSettings | None = None) -> ServiceRuntime:
    settings = settings or SlaSettings()
    runtime = ServiceRuntime.create(settings, metadata)
    runtime.add_consumer(topics=[EOMS_TICKETS], handlers=make_handlers(settings))
    runtime.loops.append(make_scanner(runtime, settings))  # type: ignore[arg-type]
    return runtime
