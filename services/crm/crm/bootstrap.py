"""Wires the CRM: settings → runtime (engine, producer, relay) → consumers. One place, no globals."""

from __future__ import annotations

import logging

from backbone.runtime import ServiceRuntime
from backbone.topics import EOMS_TICKETS, SLA_ALERTS
from crm import consumers
from crm.domain.masking import PiiMaskingFilter
from crm.models import metadata
from crm.settings import CrmSettings


def _mask_logs() -> None:
    # The backbone's formatter masks mobiles and e-mails; the CRM's filter also masks landlines
    # (key persons' office numbers). On handlers: a logger's filters miss propagated records.
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, PiiMaskingFilter) for f in handler.filters):
            handler.addFilter(PiiMaskingFilter())


def bootstrap(settings: CrmSettings | None = None) -> ServiceRuntime:
    settings = settings or CrmSettings()
    _mask_logs()
    runtime = ServiceRuntime.create(settings, metadata)
    runtime.add_consumer(topics=[EOMS_TICKETS, SLA_ALERTS], handlers=consumers.HANDLERS)
    return runtime
