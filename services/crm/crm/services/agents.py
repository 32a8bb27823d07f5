"""Which agent (代理商) serves a customer: the assignment the agent channel's scope will rest on (issue 13).

An agent places orders through the `agent` channel only for the customers assigned to them. The
assignment is the customer's `agent_id` (none: no agent); the customer's account manager or an admin
sets or clears it (the router's `crm.access.writer` scope: another manager's customer is 404).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from crm.domain.scope import Scope
from crm.models import customers
from crm.services.customers import load_customer


async def assign_agent(session: AsyncSession, *, scope: Scope, customer_id: str, agent_id: str | None) -> str | None:
    """Set (or clear, with None) the customer's agent; 404 for a customer out of the scope. Returns the agent."""
    row = await load_customer(session, scope, customer_id, lock=True)
    if row.agent_id != agent_id:
        await session.execute(update(customers).where(customers.c.id == customer_id).values(
            agent_id=agent_id, updated_at=datetime.now(UTC), version=customers.c.version + 1))
    return agent_id
