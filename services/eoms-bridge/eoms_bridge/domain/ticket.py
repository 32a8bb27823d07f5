"""EOMS ticket aggregate: TMF621-like state machine plus the node walk of its workflow.

Pure: every action takes ``now`` and the ``actor`` explicitly, mutates the ticket and returns the
domain events it produced (the service layer writes them to the outbox in the same transaction).
An illegal action raises :class:`IllegalTransitionError` (API: 409); an actor outside the node's
role raises :class:`ActorNotAllowedError` (API: 403).

States::

    acknowledged --accept--> in_progress <--suspend/resume--> pending (SLA paused)
    in_progress --complete($resolved)--> resolved --close--> closed
    in_progress --complete($rejected)--> rejected
    acknowledged|in_progress|pending --hold--> held (SLA paused) --release--> previous state
    any open state --cancel--> cancelled
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from backbone.vocabulary import NodeRole, TicketKind
from eoms_bridge.domain.errors import (
    ActorNotAllowedError,
    IllegalTransitionError,
    MissingReasonError,
)
from eoms_bridge.domain.events import (
    DomainEvent,
    NodeAssigned,
    NodeCompleted,
    NodeEntered,
    NodeReturned,
    StateChanged,
    TicketCancelled,
    TicketClosed,
    TicketCreated,
    TicketRejected,
    TicketResolved,
)
from eoms_bridge.domain.routing import next_node
from eoms_bridge.domain.workflow import (
    NodeAction,
    NodeDefinition,
    Terminal,
    TicketDefinition,
    WorkflowDefinition,
)

__all__ = [
    "ACTION_STATES",
    "OPEN_STATES",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "Actor",
    "NodeVisit",
    "Ticket",
    "TicketAction",
    "TicketState",
    "check_transition",
]


class TicketState(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    PENDING = "pending"
    HELD = "held"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class TicketAction(StrEnum):
    """Every action of the aggregate (node actions plus ticket-level ones)."""

    ACCEPT = "accept"
    COMPLETE = "complete"
    RETURN = "return"
    SUSPEND = "suspend"
    RESUME = "resume"
    REASSIGN = "reassign"
    HOLD = "hold"
    RELEASE = "release"
    CANCEL = "cancel"
    CLOSE = "close"


S = TicketState

#: Legal state changes (from -> set of to).
TRANSITIONS: Final[Mapping[TicketState, frozenset[TicketState]]] = {
    S.ACKNOWLEDGED: frozenset({S.IN_PROGRESS, S.HELD, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.PENDING, S.HELD, S.RESOLVED, S.REJECTED, S.CANCELLED}),
    S.PENDING: frozenset({S.IN_PROGRESS, S.HELD, S.CANCELLED}),
    S.HELD: frozenset({S.ACKNOWLEDGED, S.IN_PROGRESS, S.PENDING, S.CANCELLED}),
    S.RESOLVED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
}

#: States in which each action may be attempted.
ACTION_STATES: Final[Mapping[TicketAction, frozenset[TicketState]]] = {
    TicketAction.ACCEPT: frozenset({S.ACKNOWLEDGED, S.IN_PROGRESS}),
    TicketAction.COMPLETE: frozenset({S.IN_PROGRESS}),
    TicketAction.RETURN: frozenset({S.IN_PROGRESS}),
    TicketAction.SUSPEND: frozenset({S.IN_PROGRESS}),
    TicketAction.RESUME: frozenset({S.PENDING}),
    TicketAction.REASSIGN: frozenset({S.ACKNOWLEDGED, S.IN_PROGRESS, S.PENDING}),
    TicketAction.HOLD: frozenset({S.ACKNOWLEDGED, S.IN_PROGRESS, S.PENDING}),
    TicketAction.RELEASE: frozenset({S.HELD}),
    TicketAction.CANCEL: frozenset({S.ACKNOWLEDGED, S.IN_PROGRESS, S.PENDING, S.HELD}),
    TicketAction.CLOSE: frozenset({S.RESOLVED}),
}

TERMINAL_STATES: Final[frozenset[TicketState]] = frozenset({S.CLOSED, S.REJECTED, S.CANCELLED})
OPEN_STATES: Final[frozenset[TicketState]] = frozenset({S.ACKNOWLEDGED, S.IN_PROGRESS, S.PENDING, S.HELD})
SLA_PAUSED_STATES: Final[frozenset[TicketState]] = frozenset({S.PENDING, S.HELD})

_NODE_ACTION: Final[Mapping[TicketAction, NodeAction]] = {
    TicketAction.ACCEPT: NodeAction.ACCEPT,
    TicketAction.COMPLETE: NodeAction.COMPLETE,
    TicketAction.RETURN: NodeAction.RETURN,
    TicketAction.SUSPEND: NodeAction.SUSPEND,
    TicketAction.RESUME: NodeAction.RESUME,
    TicketAction.REASSIGN: NodeAction.REASSIGN,
}


def check_transition(from_state: TicketState, to_state: TicketState) -> None:
    """Raise :class:`IllegalTransitionError` unless ``from_state -> to_state`` is legal."""
    if to_state not in TRANSITIONS[from_state]:
        raise IllegalTransitionError(f"illegal ticket transition {from_state.value} -> {to_state.value}",
                                     from_state=from_state.value)


@dataclass(frozen=True)
class Actor:
    """Who performs an action: a person with roles, or a system (CRM, SLA service).

    A person works a node only when one of their roles is the node's role (``can_work``); a supervisor
    may override that (``accept`` records the override, ``how="override"``); a dispatcher (``dispatcher``)
    hands tasks to people holding the node's role but works none."""

    id: str
    roles: frozenset[NodeRole] = frozenset()
    is_system: bool = False
    dispatcher: bool = False

    @classmethod
    def person(cls, id: str, *roles: NodeRole | str) -> Actor:
        return cls(id=id, roles=frozenset(NodeRole(r) for r in roles))

    @classmethod
    def system(cls, id: str = "crm") -> Actor:
        return cls(id=id, is_system=True)

    def can_work(self, role: NodeRole) -> bool:
        return role in self.roles

    @property
    def is_supervisor(self) -> bool:
        return NodeRole.SUPERVISOR in self.roles

    @property
    def may_dispatch(self) -> bool:
        """Hands a node to another person (reassign) whoever holds it: a dispatcher, a supervisor, a system."""
        return self.dispatcher or self.is_supervisor or self.is_system


@dataclass
class NodeVisit:
    """One stay of the ticket at a node: who handled it, when, and how it ended."""

    node: str
    role: NodeRole
    entered_at: datetime
    entered_via: str  # "start", "outcome:<name>" or "return"
    assignee: str | None = None
    accepted_at: datetime | None = None
    left_at: datetime | None = None
    left_by: str | None = None
    outcome: str | None = None  # outcome name, or "$return" / "$cancelled"
    next_node: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    reassignments: list[tuple[datetime, str, str]] = field(default_factory=list)  # when, by, to
    #: the partner SI company whose node this is (set by the service when the node is entered, from the
    #: organisation data: a partner's engineers see it in their queue before anyone takes it)
    partner: str | None = None
    #: the unit (department) the node was handed to, when it was reassigned to a unit
    unit: str | None = None

    @property
    def open(self) -> bool:
        return self.left_at is None


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("'now' must be timezone-aware (UTC)")


@dataclass(eq=False)
class Ticket:
    """An EOMS ticket working through the nodes of the workflow version it started on."""

    id: str
    subject_id: str  # the CRM order or complaint id
    workflow_id: str
    workflow_version: int
    business_type: str
    kind: TicketKind
    definition: TicketDefinition = field(repr=False)
    state: TicketState
    created_at: datetime
    updated_at: datetime
    customer_tier: str | None = None
    current_node: str | None = None
    history: list[NodeVisit] = field(default_factory=list)
    trail: list[str] = field(default_factory=list)  # forward path, for "return"
    state_before_hold: TicketState | None = None
    resolution: str | None = None  # final outcome name
    reason: str | None = None  # rejection / cancellation reason

    # ----------------------------------------------------------------- creation
    @classmethod
    def open(
        cls,
        *,
        ticket_id: str,
        workflow: WorkflowDefinition,
        kind: TicketKind | str,
        subject_id: str,
        now: datetime,
        actor: Actor,
        customer_tier: str | None = None,
    ) -> tuple[Ticket, list[DomainEvent]]:
        """Create the ticket at its start node (state ``acknowledged``)."""
        _require_aware(now)
        tkind = TicketKind(kind)
        if not workflow.has_ticket(tkind):
            raise IllegalTransitionError(f"{workflow.label} does not generate a {tkind.value!r} ticket")
        tdef = workflow.ticket(tkind)
        ticket = cls(
            id=ticket_id,
            subject_id=subject_id,
            workflow_id=workflow.id,
            workflow_version=workflow.version,
            business_type=workflow.business_type,
            kind=tkind,
            definition=tdef,
            state=TicketState.ACKNOWLEDGED,
            created_at=now,
            updated_at=now,
            customer_tier=customer_tier,
        )
        events: list[DomainEvent] = [
            TicketCreated(
                ticket_id=ticket_id,
                occurred_at=now,
                actor_id=actor.id,
                kind=tkind.value,
                subject_id=subject_id,
                business_type=workflow.business_type,
                workflow_id=workflow.id,
                workflow_version=workflow.version,
                customer_tier=customer_tier,
            )
        ]
        events.append(ticket._enter(tdef.start_node, now, actor, via="start"))
        return ticket, events

    # ------------------------------------------------------------------ queries
    @property
    def node(self) -> NodeDefinition | None:
        return self.definition.node(self.current_node) if self.current_node else None

    @property
    def visit(self) -> NodeVisit | None:
        return self.history[-1] if self.history and self.history[-1].open else None

    @property
    def assignee(self) -> str | None:
        v = self.visit
        return v.assignee if v else None

    @property
    def sla_paused(self) -> bool:
        return self.state in SLA_PAUSED_STATES

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def allowed_actions(self) -> frozenset[TicketAction]:
        """Actions legal in the current state and node (ignoring who asks)."""
        node = self.node
        out: set[TicketAction] = set()
        for action, states in ACTION_STATES.items():
            if self.state not in states:
                continue
            na = _NODE_ACTION.get(action)
            if na is not None and (node is None or not node.allows(na)):
                continue
            if action is TicketAction.RETURN and len(self.trail) < 2:
                continue
            if action is TicketAction.ACCEPT and self.assignee is not None and self.state is not S.ACKNOWLEDGED:
                continue  # claimed and working; a dispatched task is accepted by its assignee to start it
            out.add(action)
        return frozenset(out)

    def actions_for(self, actor: Actor) -> frozenset[TicketAction]:
        """The actions ``actor`` may take now: legal in the state and node (``allowed_actions``) and
        allowed to this actor as the action methods check it (node role, assignee, supervisor or system
        authority). Performing one may still need its data (an outcome, a reason, the new assignee)."""
        node, visit = self.node, self.visit
        authority = actor.is_system or actor.is_supervisor
        mine = visit is not None and visit.assignee is not None and visit.assignee == actor.id
        unclaimed = visit is not None and visit.assignee is None
        holds_role = node is not None and actor.can_work(node.role)
        may: dict[TicketAction, bool] = {
            TicketAction.ACCEPT: (holds_role or actor.is_supervisor) and (unclaimed or mine),
            TicketAction.COMPLETE: mine,
            TicketAction.RETURN: mine,
            TicketAction.SUSPEND: mine,
            TicketAction.RESUME: authority or mine,
            TicketAction.REASSIGN: authority or actor.may_dispatch or mine or (unclaimed and holds_role),
            TicketAction.HOLD: authority,
            TicketAction.RELEASE: authority,
            TicketAction.CANCEL: authority,
            TicketAction.CLOSE: authority or NodeRole.ACCOUNT_MANAGER in actor.roles,
        }
        return frozenset(a for a in self.allowed_actions() if may[a])

    def outcomes(self) -> list[tuple[str, str]]:
        """The current node's outcomes and where each leads (a node name, ``$resolved`` or ``$rejected``),
        in the workflow's order; empty without a current node."""
        node = self.node
        return list(node.outcomes.items()) if node is not None else []

    # ------------------------------------------------------------- node actions
    def accept(self, *, actor: Actor, now: datetime) -> list[DomainEvent]:
        """Claim the current node (first accept moves ``acknowledged`` to ``in_progress``); the assignee of a
        dispatched node accepts it to start. A supervisor outside the node's role may claim it: recorded as
        an override (``how="override"`` on the assignment)."""
        node, visit = self._guard(TicketAction.ACCEPT, now)
        override = not actor.can_work(node.role) and actor.is_supervisor
        if not override:
            self._require_role(actor, node)
        if visit.assignee is not None and visit.assignee != actor.id:
            raise IllegalTransitionError(f"node {node.name!r} is already claimed by {visit.assignee!r}; use reassign")
        events: list[DomainEvent] = []
        if visit.assignee is None:
            visit.assignee = actor.id
            visit.accepted_at = now
            events.append(self._assigned(node, actor.id, None, now, actor, how="override" if override else "claim"))
        elif visit.accepted_at is None:
            visit.accepted_at = now
        if self.state is TicketState.ACKNOWLEDGED:
            events.append(self._set_state(TicketState.IN_PROGRESS, now, actor))
        self.updated_at = now
        return events

    def complete(
        self,
        *,
        actor: Actor,
        now: datetime,
        outcome: str,
        data: Mapping[str, Any] | None = None,
    ) -> list[DomainEvent]:
        """Finish the current node with ``outcome``; move to the preset next node or terminal.

        An outcome leading to ``$rejected`` needs ``data["reason"]`` (sent back to the CRM).
        """
        node, visit = self._guard(TicketAction.COMPLETE, now)
        self._require_assignee(actor, visit, node)
        payload = dict(data or {})
        target = next_node(self.definition, node, outcome)
        reason = str(payload.get("reason") or "").strip()
        if target is Terminal.REJECTED and not reason:
            raise MissingReasonError(f"node {node.name!r}: outcome {outcome!r} rejects the ticket and needs a reason")
        target_name = target.value if isinstance(target, Terminal) else target.name
        visit.left_at, visit.left_by = now, actor.id
        visit.outcome, visit.next_node, visit.data = outcome, target_name, payload
        events: list[DomainEvent] = [
            NodeCompleted(
                ticket_id=self.id,
                occurred_at=now,
                actor_id=actor.id,
                node=node.name,
                outcome=outcome,
                next_node=target_name,
                data=payload,
            )
        ]
        self.updated_at = now
        if isinstance(target, NodeDefinition):
            events.append(self._enter(target.name, now, actor, via=f"outcome:{outcome}"))
            return events
        self.current_node = None
        self.resolution = outcome
        if target is Terminal.RESOLVED:
            events.append(self._set_state(TicketState.RESOLVED, now, actor))
            events.append(
                TicketResolved(
                    ticket_id=self.id,
                    occurred_at=now,
                    actor_id=actor.id,
                    kind=self.kind.value,
                    subject_id=self.subject_id,
                    last_node=node.name,
                    outcome=outcome,
                )
            )
        else:
            self.reason = reason
            events.append(self._set_state(TicketState.REJECTED, now, actor, reason=reason))
            events.append(
                TicketRejected(
                    ticket_id=self.id,
                    occurred_at=now,
                    actor_id=actor.id,
                    kind=self.kind.value,
                    subject_id=self.subject_id,
                    last_node=node.name,
                    outcome=outcome,
                    reason=reason,
                )
            )
        return events

    def return_(self, *, actor: Actor, now: datetime, reason: str) -> list[DomainEvent]:
        """Send the ticket back to the node it came from (its previous node on the path)."""
        node, visit = self._guard(TicketAction.RETURN, now)
        self._require_assignee(actor, visit, node)
        if len(self.trail) < 2:
            raise IllegalTransitionError(f"node {node.name!r} has no previous node to return to")
        if not reason.strip():
            raise MissingReasonError("return needs a reason")
        self.trail.pop()
        previous = self.trail.pop()  # _enter pushes it back
        visit.left_at, visit.left_by = now, actor.id
        visit.outcome, visit.next_node, visit.reason = "$return", previous, reason
        self.updated_at = now
        return [
            NodeReturned(
                ticket_id=self.id,
                occurred_at=now,
                actor_id=actor.id,
                node=node.name,
                to_node=previous,
                reason=reason,
            ),
            self._enter(previous, now, actor, via="return"),
        ]

    def suspend(self, *, actor: Actor, now: datetime, reason: str) -> list[DomainEvent]:
        """in_progress -> pending (waiting on the customer / a third party; SLA paused)."""
        node, visit = self._guard(TicketAction.SUSPEND, now)
        self._require_assignee(actor, visit, node)
        self.updated_at = now
        return [self._set_state(TicketState.PENDING, now, actor, reason=reason)]

    def resume(self, *, actor: Actor, now: datetime) -> list[DomainEvent]:
        """pending -> in_progress (SLA clock runs again)."""
        node, visit = self._guard(TicketAction.RESUME, now)
        if not (actor.is_system or actor.is_supervisor):
            self._require_assignee(actor, visit, node)
        self.updated_at = now
        return [self._set_state(TicketState.IN_PROGRESS, now, actor)]

    def reassign(self, *, actor: Actor, now: datetime, to: Actor, unit: str | None = None) -> list[DomainEvent]:
        """Hand the current node to another person holding the node's role (``unit``: the department it
        was handed to, when a unit was named and the person picked in it). A supervisor (or a system) may
        hand it to someone outside the role: recorded as an override."""
        node, visit = self._guard(TicketAction.REASSIGN, now)
        if not actor.may_dispatch:
            if visit.assignee is None:
                self._require_role(actor, node)
            elif visit.assignee != actor.id:
                raise ActorNotAllowedError(
                    f"only the assignee {visit.assignee!r}, a dispatcher or a supervisor may reassign node "
                    f"{node.name!r}"
                )
        override = False
        if to.is_system or not to.can_work(node.role):
            if to.is_system or not (actor.is_supervisor or actor.is_system):
                raise ActorNotAllowedError(
                    f"cannot reassign node {node.name!r} to {to.id!r}: role {node.role.value!r} "
                    "required (reassignment stays within the role)"
                )
            override = True
        if to.id == visit.assignee:
            raise IllegalTransitionError(f"node {node.name!r} is already assigned to {to.id!r}")
        previous = visit.assignee
        visit.assignee = to.id
        visit.accepted_at = now
        visit.unit = unit
        visit.reassignments.append((now, actor.id, to.id))
        self.updated_at = now
        return [self._assigned(node, to.id, previous, now, actor, how="override" if override else "manual",
                               unit=unit)]

    def dispatch(self, *, actor: Actor, now: datetime, to: str, unit: str | None = None) -> list[DomainEvent]:
        """Dispatch the unclaimed current node to ``to``, the on-duty person the dispatch picked
        (``eoms_bridge.domain.dispatch``): ``how="auto"``; they accept it to start. ``actor`` is the
        system (on entering a node) or whoever asked for the dispatch."""
        node, visit = self._guard(TicketAction.REASSIGN, now)
        if visit.assignee is not None:
            raise IllegalTransitionError(f"node {node.name!r} is already assigned to {visit.assignee!r}")
        if not actor.may_dispatch:
            raise ActorNotAllowedError("only a dispatcher, a supervisor or the system dispatches a node")
        visit.assignee = to
        visit.unit = unit
        visit.reassignments.append((now, actor.id, to))
        self.updated_at = now
        return [self._assigned(node, to, None, now, actor, how="auto", unit=unit)]

    # ----------------------------------------------------------- ticket actions
    def hold(self, *, actor: Actor, now: datetime, reason: str) -> list[DomainEvent]:
        """Put the ticket on hold (CRM or supervisor, e.g. order held); SLA paused."""
        self._guard_state(TicketAction.HOLD, now)
        self._require_authority(actor, TicketAction.HOLD)
        self.state_before_hold = self.state
        self.updated_at = now
        return [self._set_state(TicketState.HELD, now, actor, reason=reason)]

    def release(self, *, actor: Actor, now: datetime) -> list[DomainEvent]:
        """Leave ``held`` for the state the ticket had before."""
        self._guard_state(TicketAction.RELEASE, now)
        self._require_authority(actor, TicketAction.RELEASE)
        back = self.state_before_hold or TicketState.ACKNOWLEDGED
        self.state_before_hold = None
        self.updated_at = now
        return [self._set_state(back, now, actor)]

    def cancel(self, *, actor: Actor, now: datetime, reason: str) -> list[DomainEvent]:
        """Cancel an open ticket (the CRM order or complaint was withdrawn)."""
        self._guard_state(TicketAction.CANCEL, now)
        self._require_authority(actor, TicketAction.CANCEL)
        visit = self.visit
        if visit is not None:
            visit.left_at, visit.left_by = now, actor.id
            visit.outcome, visit.reason = "$cancelled", reason
        self.current_node = None
        self.reason = reason
        self.updated_at = now
        return [
            self._set_state(TicketState.CANCELLED, now, actor, reason=reason),
            TicketCancelled(
                ticket_id=self.id,
                occurred_at=now,
                actor_id=actor.id,
                kind=self.kind.value,
                subject_id=self.subject_id,
                reason=reason,
            ),
        ]

    def close(self, *, actor: Actor, now: datetime) -> list[DomainEvent]:
        """resolved -> closed (the CRM / account manager confirmed the resolution)."""
        self._guard_state(TicketAction.CLOSE, now)
        if not (actor.is_system or actor.is_supervisor or NodeRole.ACCOUNT_MANAGER in actor.roles):
            raise ActorNotAllowedError("only the CRM, an account manager or a supervisor may close a ticket")
        self.updated_at = now
        return [
            self._set_state(TicketState.CLOSED, now, actor),
            TicketClosed(
                ticket_id=self.id,
                occurred_at=now,
                actor_id=actor.id,
                kind=self.kind.value,
                subject_id=self.subject_id,
            ),
        ]

    # ------------------------------------------------------------------ helpers
    def _guard_state(self, action: TicketAction, now: datetime) -> None:
        _require_aware(now)
        if self.state not in ACTION_STATES[action]:
            raise IllegalTransitionError(f"ticket {self.id}: cannot {action.value} in state {self.state.value}",
                                         from_state=self.state.value, action=action.value)

    def _guard(self, action: TicketAction, now: datetime) -> tuple[NodeDefinition, NodeVisit]:
        self._guard_state(action, now)
        node, visit = self.node, self.visit
        if node is None or visit is None:  # pragma: no cover - open states always have a node
            raise IllegalTransitionError(f"ticket {self.id}: no current node")
        na = _NODE_ACTION[action]
        if not node.allows(na):
            raise IllegalTransitionError(f"ticket {self.id}: node {node.name!r} does not allow {na.value}")
        return node, visit

    @staticmethod
    def _require_role(actor: Actor, node: NodeDefinition) -> None:
        if not actor.can_work(node.role):
            raise ActorNotAllowedError(
                f"{actor.id!r} does not hold role {node.role.value!r} required by node {node.name!r}"
            )

    @staticmethod
    def _require_assignee(actor: Actor, visit: NodeVisit, node: NodeDefinition) -> None:
        if visit.assignee is None:
            raise IllegalTransitionError(f"node {node.name!r} must be accepted first")
        if visit.assignee != actor.id:
            raise ActorNotAllowedError(f"node {node.name!r} is assigned to {visit.assignee!r}, not {actor.id!r}")

    @staticmethod
    def _require_authority(actor: Actor, action: TicketAction) -> None:
        if not (actor.is_system or actor.is_supervisor):
            raise ActorNotAllowedError(f"only the CRM or a supervisor may {action.value} a ticket")

    def _set_state(self, to: TicketState, now: datetime, actor: Actor, reason: str | None = None) -> StateChanged:
        check_transition(self.state, to)
        before = self.state
        self.state = to
        return StateChanged(
            ticket_id=self.id,
            occurred_at=now,
            actor_id=actor.id,
            from_state=before.value,
            to_state=to.value,
            node=self.current_node,
            reason=reason,
            sla_paused=self.sla_paused,
        )

    def _enter(self, name: str, now: datetime, actor: Actor, *, via: str) -> NodeEntered:
        node = self.definition.node(name)
        self.current_node = name
        self.trail.append(name)
        self.history.append(NodeVisit(node=name, role=node.role, entered_at=now, entered_via=via))
        return NodeEntered(
            ticket_id=self.id,
            occurred_at=now,
            actor_id=actor.id,
            node=name,
            role=node.role.value,
            business_type=self.business_type,
            customer_tier=self.customer_tier,
        )

    def _assigned(
        self, node: NodeDefinition, to: str, previous: str | None, now: datetime, actor: Actor, *,
        how: str, unit: str | None = None,
    ) -> NodeAssigned:
        return NodeAssigned(
            ticket_id=self.id,
            occurred_at=now,
            actor_id=actor.id,
            node=node.name,
            role=node.role.value,
            assignee=to,
            previous_assignee=previous,
            how=how,
            assignee_unit=unit,
        )
