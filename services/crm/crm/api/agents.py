"""The agent (代理商) assigned to a customer: PUT /api/v1/customers/{customer_id}/agent (docs/crm.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import Field, StringConstraints

from backbone.shapes import ClosedModel
from crm import access
from crm.api.deps import SessionDep, WriterDep
from crm.services import agents as service

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])

AgentId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]


class AgentAssignmentIn(ClosedModel):
    agent_id: AgentId | None = Field(description="the agent's user id (the token subject); null: no agent")


class AgentAssignmentOut(ClosedModel):
    customer_id: str
    agent_id: str | None


@router.put("/{customer_id}/agent", response_model=AgentAssignmentOut,
            summary="Assign the customer's agent (or clear it with null): its account manager or an admin")
async def assign_agent(customer_id: str, body: AgentAssignmentIn, session: SessionDep,
                       principal: WriterDep) -> AgentAssignmentOut:
    async with session.begin():
        agent = await service.assign_agent(session, scope=access.writer(principal), customer_id=customer_id,
                                           agent_id=body.agent_id)
    return AgentAssignmentOut(customer_id=customer_id, agent_id=agent)
