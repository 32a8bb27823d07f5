"""What the bridge's handlers and routes work with, built once by `bootstrap`: the typed context."""

from __future__ import annotations

from dataclasses import dataclass

from eoms_bridge.adapter.client import EomsClient
from eoms_bridge.domain.dispatch import Organisation
from eoms_bridge.services.workflows import WorkflowStore
from eoms_bridge.settings import EomsSettings


@dataclass(frozen=True)
class EomsContext:
    """The bridge's domain parts: its settings, the workflow store (the validated catalog, synced
    into the definitions table at start) and, in adapter mode, the client of the external EOMS."""

    settings: EomsSettings
    store: WorkflowStore
    client: EomsClient | None = None
    #: the organisation node tasks are dispatched to (`eoms_bridge/data/organisation.yaml`, validated at start)
    organisation: Organisation | None = None

    @property
    def forwarding(self) -> bool:
        """Adapter mode: tickets go to the external EOMS, which reports back on the callback webhook."""
        return self.client is not None

    @property
    def eoms_partner(self) -> str | None:
        """The callback partner whose EOMS the tickets are forwarded to (adapter mode): a forwarded ticket
        records it, and only that partner's signed callbacks act on it."""
        return self.settings.eoms_url_partner if self.forwarding else None
