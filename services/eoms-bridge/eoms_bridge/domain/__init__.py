"""Pure domain layer of the EOMS bridge: workflow definitions, routing, the ticket aggregate."""

from eoms_bridge.domain.errors import (
    ActorNotAllowedError,
    DomainError,
    IllegalTransitionError,
    MissingReasonError,
    UnknownNodeError,
    UnknownOutcomeError,
    WorkflowDefinitionError,
    WorkflowNotFoundError,
)
from eoms_bridge.domain.routing import next_node, tickets_to_open
from eoms_bridge.domain.ticket import Actor, Ticket, TicketState
from eoms_bridge.domain.workflow import (
    Terminal,
    TicketKind,
    WorkflowCatalog,
    WorkflowDefinition,
    load_catalog,
    parse_workflow,
)

__all__ = [
    "Actor",
    "ActorNotAllowedError",
    "DomainError",
    "IllegalTransitionError",
    "MissingReasonError",
    "Terminal",
    "Ticket",
    "TicketKind",
    "TicketState",
    "UnknownNodeError",
    "UnknownOutcomeError",
    "WorkflowCatalog",
    "WorkflowDefinition",
    "WorkflowDefinitionError",
    "WorkflowNotFoundError",
    "load_catalog",
    "next_node",
    "parse_workflow",
    "tickets_to_open",
]
