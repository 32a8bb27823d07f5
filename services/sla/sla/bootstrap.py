"""The SLA service's composition root: settings → context (the policy catalog, the workflow catalog)
→ runtime with the consumer of ticket events and customer re-gradings, the due-timer scanner and,
before either runs, the policy file seeded. A broken workflow catalog, or a policy file that fails
validation or the lint against that catalog, stops the start here."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone.consumer import typed_parser
from backbone.events import TicketNodeCompleted, TicketNodeEntered
from backbone.runtime import Infra, ServiceRuntime
from backbone.topics import CRM_CUSTOMERS, EOMS_TICKETS
from sla.consumers import NODE_COMPLETED, NODE_ENTERED, make_batch_applier, make_handlers
from sla.context import SlaContext
from sla.domain import lint
from sla.domain.catalog import NodeCatalog
from sla.domain.policy import load_policy_set
from sla.models import metadata
from sla.scheduler import DueTimerScanner
from sla.services import policies
from sla.services.policies import PolicyCatalog
from sla.settings import SlaSettings
from sla.workflow_catalog import load_node_catalog

log = logging.getLogger("sla.bootstrap")


async def seed_policy(session_factory: async_sessionmaker[AsyncSession], settings: SlaSettings,
                      workflows: NodeCatalog) -> None:
    """Store (and activate if new) the policy file's version. Before any consumer runs: a node
    entered during start-up must find an active policy. An invalid file stops the start."""
    async with session_factory() as session, session.begin():
        try:
            result = await policies.seed_from_file(session, settings.sla_policy_file, workflows)
        except policies.VersionConflict as exc:
            # Keep serving with what the database has; the file needs a new version to roll out.
            log.error("SLA_POLICY_FILE %s not loaded: %s", settings.sla_policy_file, exc)
            return
    log.info("policy file %s: version %s (%s, %s)", settings.sla_policy_file, result.version,
             "stored" if result.created else "known", "active" if result.active else "not active")


def bootstrap(settings: SlaSettings | None = None) -> ServiceRuntime[SlaContext]:
    settings = settings or SlaSettings()
    workflows = load_node_catalog(settings.sla_workflow_catalog, settings.sla_workflow_catalog_extra)
    report = lint.check(load_policy_set(settings.sla_policy_file), workflows)  # PolicyLintError: no start
    log.info("policy file %s against %d workflow nodes: %s", settings.sla_policy_file, len(workflows),
             report.summary())
    context = SlaContext(settings=settings, policies=PolicyCatalog(), workflows=workflows)
    runtime = ServiceRuntime(Infra.create(settings, metadata), context)

    async def seed() -> None:
        await seed_policy(runtime.session_factory, settings, workflows)

    runtime.on_start(seed)
    handlers = make_handlers(context)
    consumer = runtime.add_consumer(
        topics=[EOMS_TICKETS, CRM_CUSTOMERS], handlers=handlers,
        apply_run=make_batch_applier(context, handlers) if settings.set_based_consumer else None,
    )
    # Starts and stops, nearly every record: envelope and payload parsed in one pass.
    consumer.parse_with(typed_parser({NODE_ENTERED: TicketNodeEntered, NODE_COMPLETED: TicketNodeCompleted}))
    scanner = DueTimerScanner(
        runtime.session_factory, context.policies, batch_size=settings.scan_batch_size,
        interval_s=settings.scan_interval_s, idle_s=settings.scan_idle_s, fired_by=context.instance_id,
    )
    consumer.wake_on_commit(scanner)  # a timer started or moved sooner: the scanner re-reads the next due
    runtime.add_worker(scanner)
    return runtime
