"""The CRM's composition root: settings → context (catalogue, tiering configuration) → runtime (engine,
outbox relay, producer) with the consumer of the ticket and SLA alert streams. One place, no globals."""

from __future__ import annotations

from backbone.hub.delivery import hub_workers
from backbone.hub.fanout import fan_out_handlers, merge_handlers
from backbone.runtime import Infra, ServiceRuntime
from backbone.topics import CRM_COMPLAINTS, CRM_ORDERS, EOMS_TICKETS, SLA_ALERTS
from crm import consumers, tmf_events
from crm.context import CrmContext
from crm.domain.products import load_catalogue
from crm.domain.tiering import tiering_config_from
from crm.models import hub, metadata
from crm.settings import CrmSettings


def bootstrap(settings: CrmSettings) -> ServiceRuntime[CrmContext]:
    # Loading validates the data files: a broken catalogue or tiering configuration fails the start.
    context = CrmContext(settings=settings, catalogue=load_catalogue(),
                         tiering=tiering_config_from(settings.tiering_file))
    runtime = ServiceRuntime(Infra.create(settings, metadata), context)
    # The handlers need nothing but their session: the feedback steps only move states.
    # The TMF hubs' fan-out rides the same consumer (one inbox row per event): the CRM's own order and
    # complaint streams, ticket progress (milestones) and SLA alerts (jeopardy) → per-subscriber queues.
    handlers = merge_handlers(
        consumers.HANDLERS,
        fan_out_handlers(hub, tmf_events.ORDER_API, tmf_events.ORDER_MAPPERS),
        fan_out_handlers(hub, tmf_events.TICKET_API, tmf_events.TICKET_MAPPERS),
    )
    runtime.add_consumer(topics=[CRM_ORDERS, CRM_COMPLAINTS, EOMS_TICKETS, SLA_ALERTS], handlers=handlers)
    for worker in hub_workers(runtime.engine, runtime.session_factory, hub, settings,
                              retention_interval_s=settings.retention_interval_s,
                              retention_batch_size=settings.retention_batch_size):
        runtime.add_worker(worker)
    return runtime
