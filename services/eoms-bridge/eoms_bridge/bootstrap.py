"""The EOMS bridge's composition root: settings → context (workflow store, EOMS client) → runtime
with the consumer of the CRM's streams, the catalog sync at start and, in adapter mode, the forwarder."""

from __future__ import annotations

from backbone.hub.delivery import hub_workers
from backbone.hub.fanout import fan_out_handlers, merge_handlers
from backbone.runtime import Infra, ServiceRuntime
from backbone.topics import CRM_COMPLAINTS, CRM_ORDERS, EOMS_TICKETS
from backbone.vocabulary import TicketKind
from eoms_bridge import consumers, tmf_events
from eoms_bridge.adapter.client import CircuitBreaker, EomsClient
from eoms_bridge.adapter.forwarder import Forwarder
from eoms_bridge.context import EomsContext
from eoms_bridge.domain.dispatch import load_organisation
from eoms_bridge.domain.errors import WorkflowDefinitionError, WorkflowNotFoundError
from eoms_bridge.domain.workflow import WorkflowCatalog
from eoms_bridge.models import hub, metadata
from eoms_bridge.services.workflows import WorkflowStore
from eoms_bridge.settings import EomsSettings
from eoms_bridge.workflows_loader import load_catalog


def eoms_client(settings: EomsSettings) -> EomsClient | None:
    """The client of the external EOMS, when one is configured (adapter mode)."""
    if not settings.eoms_url:
        return None
    return EomsClient(
        settings.eoms_url, timeout_s=settings.eoms_timeout_s, max_attempts=settings.eoms_max_attempts,
        backoff_initial_s=settings.eoms_backoff_initial_s, backoff_max_s=settings.eoms_backoff_max_s,
        breaker=CircuitBreaker(failure_threshold=settings.eoms_breaker_failures,
                               reset_timeout_s=settings.eoms_breaker_reset_s),
    )


def check_generic_complaint(catalog: WorkflowCatalog, business_type: str) -> None:
    """A complaint naming no product opens this business type's workflow: it must be there and open a
    complaint_fault ticket, or such complaints would have nowhere to go (the start fails instead)."""
    try:
        workflow = catalog.latest(business_type)
    except WorkflowNotFoundError:
        raise WorkflowDefinitionError(
            f"GENERIC_COMPLAINT_BUSINESS_TYPE {business_type!r}: no workflow in the catalog; a complaint "
            "naming no product would have nowhere to go") from None
    if not workflow.has_ticket(TicketKind.COMPLAINT_FAULT):
        raise WorkflowDefinitionError(
            f"GENERIC_COMPLAINT_BUSINESS_TYPE {business_type!r}: {workflow.label} opens no complaint_fault ticket")


def bootstrap(settings: EomsSettings) -> ServiceRuntime[EomsContext]:
    # Loading validates every workflow file: a broken catalog fails the start.
    catalog = load_catalog(settings.workflow_dir)
    check_generic_complaint(catalog, settings.generic_complaint_business_type)
    store = WorkflowStore(catalog)
    # The organisation (people, rosters, partners' nodes) is validated too: a mistake names its field.
    context = EomsContext(settings=settings, store=store, client=eoms_client(settings),
                          organisation=load_organisation(settings.organisation_file))
    runtime = ServiceRuntime(Infra.create(settings, metadata), context)
    session_factory = runtime.session_factory

    async def sync_catalog() -> None:
        # The shipped catalog into the shared definitions table, before any event or request.
        await store.sync(session_factory)

    runtime.on_start(sync_catalog)
    # The TMF621 hub's fan-out reads the bridge's own ticket stream on the same consumer (backbone.hub).
    handlers = merge_handlers(consumers.make_handlers(context),
                              fan_out_handlers(hub, tmf_events.TICKET_API, tmf_events.TICKET_MAPPERS))
    runtime.add_consumer(topics=[CRM_ORDERS, CRM_COMPLAINTS, EOMS_TICKETS], handlers=handlers,
                         apply_run=consumers.make_batch_applier(context, handlers))
    for worker in hub_workers(runtime.engine, session_factory, hub, settings,
                              retention_interval_s=settings.retention_interval_s,
                              retention_batch_size=settings.retention_batch_size):
        runtime.add_worker(worker)
    if context.client is not None:
        runtime.add_worker(Forwarder(
            session_factory, context.client, batch_size=settings.eoms_forward_batch,
            poll_interval_s=settings.eoms_forward_poll_s, retry_initial_s=settings.eoms_forward_retry_initial_s,
            retry_max_s=settings.eoms_forward_retry_max_s,
        ))
        runtime.on_stop(context.client.aclose)
    return runtime
