"""Domain events produced by ticket actions: plain frozen dataclasses, past-tense names.

The service layer turns each into an outbox row (``event_type`` is the envelope ``type``,
``ticket_id`` the ``subject``, ``to_data()`` the payload).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

__all__ = [
    "DomainEvent",
    "NodeAssigned",
    "NodeCompleted",
    "NodeEntered",
    "NodeReturned",
    "StateChanged",
    "TicketCancelled",
    "TicketClosed",
    "TicketCreated",
    "TicketRejected",
    "TicketResolved",
]


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    event_type: ClassVar[str] = "eoms.ticket.event"

    ticket_id: str
    occurred_at: datetime
    actor_id: str

    def to_data(self) -> dict[str, Any]:
        """JSON-ready payload (datetimes as RFC 3339, enums as their values)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            out[f.name] = _jsonable(getattr(self, f.name))
        return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if hasattr(v, "value") and isinstance(v.value, str):
        return v.value
    return v


@dataclass(frozen=True, kw_only=True)
class TicketCreated(DomainEvent):
    event_type: ClassVar[str] = "eoms.ticket.created"
    kind: str
    subject_id: str
    business_type: str
    workflow_id: str
    workflow_version: int
    customer_tier: str | None = None


@dataclass(frozen=True, kw_only=True)
class NodeEntered(DomainEvent):
    event_type: ClassVar[str] = "eoms.ticket.node_entered"
    node: str
    role: str
    business_type: str
    customer_tier: str | None = None


@dataclass(frozen=True, kw_only=True)
class NodeCompleted(DomainEvent):
    event_type: ClassVar[str] = "eoms.ticket.node_completed"
    node: str
    outcome: str
    next_node: str  # a node name or a terminal marker ("$resolved" / "$rejected")
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class NodeReturned(DomainEvent):
    event_type: ClassVar[str] = "eoms.ticket.node_returned"
    node: str
    to_node: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class NodeAssigned(DomainEvent):
    event_type: ClassVar[str] = "eoms.ticket.node_assigned"
    node: str
    role: str
    assignee: str
    previous_assignee: str | None
    #: how the node got its assignee: "claim" (accept from the queue), "auto" (dispatched to the on-duty
    #: person), "manual" (reassigned to a named person or unit), "override" (a supervisor outside the
    #: node's role, or a reassignment to someone outside it)
    how: str = "claim"
    assignee_unit: str | None = None


@dataclass(frozen=True, kw_only=True)
class StateChanged(DomainEvent):
    event_type: ClassVar[str] = "eoms.ticket.state_changed"
    from_state: str
    to_state: str
    node: str | None
    reason: str | None = None
    sla_paused: bool = False


@dataclass(frozen=True, kw_only=True)
class TicketResolved(DomainEvent):
    event_type: ClassVar[str] = "eoms.ticket.resolved"
    kind: str
    subject_id: str
    last_node: str
    outcome: str


@dataclass(frozen=True, kw_only=True)
class TicketRejected(DomainEvent):
    event_type: ClassVar[str] = "eoms.ticket.rejected"
    kind: str
    subject_id: str
    last_node: str
    outcome: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class TicketCancelled(DomainEvent):
    event_type: ClassVar[str] = "eoms.ticket.cancelled"
    kind: str
    subject_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class TicketClosed(DomainEvent):
    event_type: ClassVar[str] = "eoms.ticket.closed"
    kind: str
    subject_id: str
