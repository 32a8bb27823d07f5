"""The CRM's composition root: settings → context (catalogue, tiering configuration) → runtime (engine,
outbox relay, producer) with the consumer of the ticket and SLA alert streams. One place, no globals."""

from __future__ import annotations

from backbone.runtime import Infra, ServiceRuntime
from backbone.topics import EOMS_TICKETS, SLA_ALERTS
from crm import consumers
from crm.context import CrmContext
from crm.domain.products import load_catalogue
from crm.domain.tiering import tiering_config_from
from crm.models import metadata
from crm.settings import CrmSettings


def bootstrap(settings: CrmSettings) -> ServiceRuntime[CrmContext]:
    # Loading validates the data files: a broken catalogue or tiering configuration fails the start.
    context = CrmContext(settings=settings, catalogue=load_catalogue(),
                         tiering=tiering_config_from(settings.tiering_file))
    runtime = ServiceRuntime(Infra.create(settings, metadata), context)
    # The handlers need nothing but their session: the feedback steps only move states.
    runtime.add_consumer(topics=[EOMS_TICKETS, SLA_ALERTS], handlers=consumers.HANDLERS)
    return runtime
