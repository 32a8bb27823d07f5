"""What a bridge process holds beside the runtime: the workflow store and the EOMS adapter."""

from __future__ import annotations

from dataclasses import dataclass

from backbone.runtime import ServiceRuntime
from eoms_bridge.adapter.client import CircuitBreaker, EomsClient
from eoms_bridge.services.workflows import WorkflowStore
from eoms_bridge.settings import EomsSettings


@dataclass
class Bridge:
    settings: EomsSettings
    store: WorkflowStore
    runtime: ServiceRuntime | None = None
    client: EomsClient | None = None

    @classmethod
    def create(cls, settings: EomsSettings) -> Bridge:
        # Loading validates every workflow file: a broken catalog stops the process at start.
        bridge = cls(settings=settings, store=WorkflowStore.from_directory(settings.workflow_dir))
        if settings.eoms_url:
            bridge.client = EomsClient(
                settings.eoms_url, timeout_s=settings.eoms_timeout_s, max_attempts=settings.eoms_max_attempts,
                backoff_initial_s=settings.eoms_backoff_initial_s, backoff_max_s=settings.eoms_backoff_max_s,
                breaker=CircuitBreaker(failure_threshold=settings.eoms_breaker_failures,
                                       reset_timeout_s=settings.eoms_breaker_reset_s),
            )
        return bridge

    @property
    def forwarding(self) -> bool:
        """Adapter mode: tickets go to the external EOMS, which reports back on the callback webhook."""
        return self.client is not None

    async def ready(self) -> WorkflowStore:
        """The store, synced with the definitions table (first call only)."""
        assert self.runtime is not None, "bridge not bootstrapped"
        await self.store.sync(self.runtime.session_factory)
        return self.store
