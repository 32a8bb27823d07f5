"""What the access policy (`crm.access`) decided for one request, as plain values for the use cases.

The API edge checks the caller's roles and turns its principal into a `Scope`; the use cases know
nothing of tokens or roles: they record `actor`, see only `owner`'s customers and their work (an
entity of another account manager is "not found", never "forbidden"), and let an `admin` scope
take the overrides the domain allows (reassigning a customer, an order without an opportunity).
An `agent` scope reaches only the customers assigned to that agent (`customers.agent_id`) and their
orders: an entity whose customer's agent is not given to `covers` is out of its reach.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    actor: str
    #: only this account manager's customers and their work; None: every account manager's
    owner: str | None = None
    admin: bool = False
    #: an agent's request: only the customers assigned to this agent (and their orders)
    agent: str | None = None

    def covers(self, account_manager_id: str, agent_id: str | None = None) -> bool:
        """The entity (of that account manager; of a customer served by `agent_id`) is within reach."""
        if self.agent is not None:
            return agent_id is not None and agent_id == self.agent
        return self.owner is None or self.owner == account_manager_id
