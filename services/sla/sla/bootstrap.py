"""Wires the SLA service: settings → runtime → ticket-event consumer + due-timer scanner."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from backbone.runtime import ServiceRuntime
from backbone.topics import EOMS_TICKETS
from sla.consumers import make_batch_applier, make_handlers
from sla.models import metadata
from sla.scheduler import make_scanner
from sla.services import policies
from sla.settings import SlaSettings

log = logging.getLogger("sla.bootstrap")


@dataclass
class SlaRuntime(ServiceRuntime):
    async def start(self) -> None:
        # Before any consumer runs: a node entered during start-up must find an active policy.
        await seed_policy(self)
        await super().start()


async def seed_policy(runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    assert isinstance(settings, SlaSettings)
    async with runtime.session_factory() as session, session.begin():
        try:
            result = await policies.seed_from_file(session, settings.sla_policy_file)
        except policies.VersionConflict as exc:
            # Keep serving with what the database has; the file needs a new version to roll out.
            log.error("SLA_POLICY_FILE %s not loaded: %s", settings.sla_policy_file, exc)
            return
    log.info("policy file %s: version %s (%s, %s)", settings.sla_policy_file, result.version,
             "stored" if result.created else "known", "active" if result.active else "not active")


def bootstrap(settings: SlaSettings | None = None) -> ServiceRuntime:
    settings = settings or SlaSettings()
    runtime = SlaRuntime.create(settings, metadata)
    handlers = make_handlers(settings)
    runtime.add_consumer(
        topics=[EOMS_TICKETS], handlers=handlers,
        apply_run=make_batch_applier(settings, handlers) if settings.set_based_consumer else None,
    )
    runtime.loops.append(make_scanner(runtime, settings))
    return runtime
