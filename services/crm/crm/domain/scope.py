"""What the access policy (`crm.access`) decided for one request, as plain values for the use cases.

The API edge checks the caller's roles and turns its principal into a `Scope`; the use cases know
nothing of tokens or roles: they record `actor`, see only `owner`'s customers and their work (an
entity of another account manager is "not found", never "forbidden"), and let an `admin` scope
take the overrides the domain allows (reassigning a customer, an order without an opportunity).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    actor: str
    #: only this account manager's customers and their work; None: every account manager's
    owner: str | None = None
    admin: bool = False

    def covers(self, account_manager_id: str) -> bool:
        """The entity (of that account manager) is within reach of this request."""
        return self.owner is None or self.owner == account_manager_id
