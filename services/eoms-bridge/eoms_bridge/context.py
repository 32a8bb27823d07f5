"""What the bridge's handlers and routes work with, built once by `bootstrap`: the typed context."""

from __future__ import annotations

from dataclasses import dataclass

from eoms_bridge.adapter.client import EomsClient
from eoms_bridge.services.workflows import WorkflowStore
from eoms_bridge.settings import EomsSettings


@dataclass(frozen=True)
class EomsContext:
    """The bridge's domain parts: its settings, the workflow store (the validated catalog, synced
    into the definitions table at start) and, in adapter mode, the client of the external EOMS."""

    settings: EomsSettings
    store: WorkflowStore
    client: EomsClient | None = None

    @property
    def forwarding(self) -> bool:
        """Adapter mode: tickets go to the external EOMS, which reports back on the callback webhook."""
        return self.client is not None
