"""What the SLA service's handlers, scanner and API share: built once by `bootstrap(settings)`."""

from __future__ import annotations

from dataclasses import dataclass

from sla.domain.catalog import NodeCatalog
from sla.services.policies import PolicyCatalog
from sla.settings import SlaSettings


@dataclass(frozen=True)
class SlaContext:
    settings: SlaSettings
    # Parsed policy versions of this process (immutable versions: a cache that never goes stale).
    policies: PolicyCatalog
    # Every node a ticket can enter (the SLA's copy of the EOMS workflow catalog): policies are linted
    # against it, and the explain / matrix / coverage reads enumerate it.
    workflows: NodeCatalog

    @property
    def instance_id(self) -> str:
        """Who fires: written on each alert row (`fired_by`)."""
        return self.settings.instance_id
