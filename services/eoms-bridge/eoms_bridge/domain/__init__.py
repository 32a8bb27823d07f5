"""Pure domain layer of the EOMS bridge: workflow definitions, routing, the ticket aggregate."""

from eoms_bridge.domain.errors import (
    ActorNotAllowedError,
    IllegalTransitionError,
    MissingReasonError,
    StaleTicketError,
    TicketNotFoundError,
    UnknownNodeError,
    UnknownOutcomeError,
    WorkflowConflictError,
    WorkflowDefinitionError,
    WorkflowNotFoundError,
)
from eoms_bridge.domain.routing import next_node, tickets_to_open
from eoms_bridge.domain.ticket import Actor, Ticket, TicketState
from eoms_bridge.domain.workflow import (
    Terminal,
    WorkflowCatalog,
    WorkflowDefinition,
    parse_workflow,
)

__all__ = [
    "Actor",
    "ActorNotAllowedError",
    "IllegalTransitionError",
    "MissingReasonError",
    "StaleTicketError",
    "Terminal",
    "Ticket",
    "TicketNotFoundError",
    "TicketState",
    "UnknownNodeError",
    "UnknownOutcomeError",
    "WorkflowCatalog",
    "WorkflowConflictError",
    "WorkflowDefinition",
    "WorkflowDefinitionError",
    "WorkflowNotFoundError",
    "next_node",
    "parse_workflow",
    "tickets_to_open",
]
