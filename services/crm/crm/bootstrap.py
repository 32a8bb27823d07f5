"""Wires the CRM: settings → runtime (engine, producer, relay) → consumers. One place, no globals."""

from __future__ import annotations

from backbone.runtime import ServiceRuntime
from backbone.topics import EOMS_TICKETS, SLA_ALERTS
from crm import consumers
from crm.models import metadata
from crm.settings import CrmSettings


def bootstrap(settings: CrmSettings | None = None) -> ServiceRuntime:
    settings = settings or CrmSettings()
    runtime = ServiceRuntime.create(settings, metadata)
    runtime.add_consumer(topics=[EOMS_TICKETS, SLA_ALERTS], handlers=consumers.HANDLERS)
    return runtime
