"""Workflow definitions as data: which tickets a business type generates and how each flows.

A :class:`WorkflowDefinition` is the "configuration table" of one business type
(``<product>.<kind>``, or ``generic.complaint`` for a complaint naming no product): the ticket
kinds it generates, their dependencies, and for each ticket the nodes it walks. Every node
belongs to a role; each outcome of a node names the preset next node or a terminal marker
(``$resolved`` / ``$rejected``), so nobody picks the next handler by hand.

A definition is checked when it is built: field rules here, graph rules in
:mod:`eoms_bridge.domain.workflow.graph`; :func:`~eoms_bridge.domain.workflow.parsing.parse_workflow`
turns raw data into a definition and reports every problem found.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from backbone.shapes import FrozenClosedModel, find
from backbone.vocabulary import (
    GENERIC_COMPLAINT,
    PRODUCT_IDS,
    WORKFLOW_KINDS,
    NodeRole,
    ProductId,
    TicketKind,
    WorkflowKind,
    is_business_type,
)
from eoms_bridge.domain.workflow.graph import ticket_problems, workflow_problems
from eoms_bridge.domain.workflow.terms import (
    DEFAULT_ACTIONS,
    NAME_RE,
    TERMINALS,
    NodeAction,
    Terminal,
)

__all__ = ["NodeDefinition", "TicketDefinition", "WorkflowDefinition"]


class NodeDefinition(FrozenClosedModel):
    """One step of a ticket: who works it, what they may do, where each outcome leads."""

    name: str
    role: NodeRole
    title_zh: str | None = None
    title_en: str | None = None  # without one, screens read backbone/labels.yaml's label of the node name
    actions: frozenset[NodeAction] = DEFAULT_ACTIONS
    outcomes: dict[str, str] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, v: str) -> str:
        if not NAME_RE.match(v) or v.startswith("$"):
            raise ValueError(f"node name {v!r} must match {NAME_RE.pattern}")
        return v

    @field_validator("outcomes")
    @classmethod
    def _outcome_names(cls, v: dict[str, str]) -> dict[str, str]:
        for outcome, target in v.items():
            if not NAME_RE.match(outcome):
                raise ValueError(f"outcome name {outcome!r} must match {NAME_RE.pattern}")
            if target.startswith("$") and target not in TERMINALS:
                raise ValueError(
                    f"outcome {outcome!r} points to unknown terminal {target!r} (known: {', '.join(sorted(TERMINALS))})"
                )
        return v

    @model_validator(mode="after")
    def _actions_consistent(self) -> NodeDefinition:
        if NodeAction.COMPLETE not in self.actions:
            raise ValueError(f"node {self.name!r}: 'complete' must be an allowed action")
        if (NodeAction.SUSPEND in self.actions) != (NodeAction.RESUME in self.actions):
            raise ValueError(f"node {self.name!r}: 'suspend' and 'resume' go together")
        return self

    def target(self, outcome: str) -> str | Terminal:
        """Next node name or terminal for ``outcome`` (KeyError if unknown)."""
        raw = self.outcomes[outcome]
        return Terminal(raw) if raw in TERMINALS else raw

    def allows(self, action: NodeAction | str) -> bool:
        return NodeAction(action) in self.actions


class TicketDefinition(FrozenClosedModel):
    """The nodes one ticket kind walks inside a workflow. Graph checks run on the workflow."""

    kind: TicketKind
    title_zh: str | None = None
    depends_on: tuple[TicketKind, ...] = ()
    start_node: str
    nodes: tuple[NodeDefinition, ...] = Field(min_length=1)

    def node(self, name: str) -> NodeDefinition:
        return find(self.nodes, lambda n: n.name == name, KeyError(name))

    def has_node(self, name: str) -> bool:
        return any(n.name == name for n in self.nodes)

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes)

    def problems(self, where: str) -> list[str]:
        """Every graph problem of this ticket; ``where`` prefixes each message."""
        return ticket_problems(self, where)


class WorkflowDefinition(FrozenClosedModel):
    """The configuration of one business type, at one version."""

    id: str
    version: int = Field(ge=1)
    business_type: str
    title_zh: str | None = None
    description: str | None = None
    attributes: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    tickets: tuple[TicketDefinition, ...] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _id_format(cls, v: str) -> str:
        if not re.match(r"^[a-z][a-z0-9_.\-]*$", v):
            raise ValueError(f"workflow id {v!r} must match ^[a-z][a-z0-9_.-]*$")
        return v

    @field_validator("business_type")
    @classmethod
    def _business_type_format(cls, v: str) -> str:
        if not is_business_type(v):
            raise ValueError(
                f"business_type {v!r} must be '<product>.<kind>' with product in "
                f"{sorted(PRODUCT_IDS)} and kind in {sorted(WORKFLOW_KINDS)}, or {GENERIC_COMPLAINT!r}"
            )
        return v

    @model_validator(mode="after")
    def _graph_is_valid(self) -> WorkflowDefinition:
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def label(self) -> str:
        return f"workflow {self.id!r} v{self.version}"

    @property
    def product(self) -> ProductId | None:
        """The product of the business type; None for ``generic.complaint``, which names none."""
        scope = self.business_type.partition(".")[0]
        return ProductId(scope) if scope in PRODUCT_IDS else None

    @property
    def business_kind(self) -> WorkflowKind:
        return WorkflowKind(self.business_type.partition(".")[2])

    @property
    def node_count(self) -> int:
        return sum(len(t.nodes) for t in self.tickets)

    def ticket(self, kind: TicketKind | str) -> TicketDefinition:
        k = TicketKind(kind)
        for t in self.tickets:
            if t.kind == k:
                return t
        raise KeyError(k.value)

    def has_ticket(self, kind: TicketKind | str) -> bool:
        return any(t.kind == TicketKind(kind) for t in self.tickets)

    def problems(self) -> list[str]:
        """Every problem of this definition, each naming the workflow/ticket/node."""
        return workflow_problems(self)
