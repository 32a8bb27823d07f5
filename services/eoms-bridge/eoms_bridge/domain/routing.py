"""Pure routing over workflow definitions: next node per outcome, tickets unblocked, graph facts."""

from __future__ import annotations

from collections import deque
from collections.abc import Collection

from backbone.vocabulary import TicketKind, business_type_of_complaint
from eoms_bridge.domain.errors import UnknownNodeError, UnknownOutcomeError
from eoms_bridge.domain.workflow import (
    TERMINALS,
    NodeDefinition,
    Terminal,
    TicketDefinition,
    WorkflowDefinition,
)

__all__ = [
    "complaint_business_types",
    "distance_to_terminal",
    "initial_tickets",
    "next_node",
    "node_of",
    "reachable_nodes",
    "tickets_to_open",
]


def node_of(ticket_def: TicketDefinition, name: str) -> NodeDefinition:
    try:
        return ticket_def.node(name)
    except KeyError:
        raise UnknownNodeError(f"ticket {ticket_def.kind.value!r} has no node {name!r}") from None


def next_node(
    ticket_def: TicketDefinition, current_node: NodeDefinition | str, outcome: str
) -> NodeDefinition | Terminal:
    """Where ``outcome`` of ``current_node`` leads: the preset next node, or a terminal."""
    node = node_of(ticket_def, current_node if isinstance(current_node, str) else current_node.name)
    if outcome not in node.outcomes:
        raise UnknownOutcomeError(
            f"ticket {ticket_def.kind.value!r}, node {node.name!r}: unknown outcome {outcome!r} "
            f"(allowed: {', '.join(sorted(node.outcomes))})"
        )
    target = node.target(outcome)
    if isinstance(target, Terminal):
        return target
    return node_of(ticket_def, target)


def tickets_to_open(
    workflow: WorkflowDefinition,
    resolved_kinds: Collection[TicketKind | str],
    already_opened: Collection[TicketKind | str] = (),
) -> list[TicketKind]:
    """Ticket kinds whose dependencies are all resolved and that are not yet opened/resolved.

    In workflow order. With ``resolved_kinds`` empty this gives the tickets an order opens first
    (e.g. only resource confirmation: reservation waits for it, opening waits for reservation).
    """
    resolved = {TicketKind(k) for k in resolved_kinds}
    opened = {TicketKind(k) for k in already_opened} | resolved
    return [t.kind for t in workflow.tickets if t.kind not in opened and all(d in resolved for d in t.depends_on)]


def initial_tickets(workflow: WorkflowDefinition) -> list[TicketKind]:
    return tickets_to_open(workflow, ())


def complaint_business_types(product: str | None, generic: str) -> list[str]:
    """The business types a complaint may open, best first: ``<product>.complaint``, then the generic
    complaint workflow (triage by category), which takes a complaint naming no product, or a product
    whose own complaint workflow is missing: a recorded complaint always reaches a ticket."""
    own = business_type_of_complaint(product)
    return [own] if own == generic else [own, generic]


def reachable_nodes(ticket_def: TicketDefinition, start: str | None = None) -> list[NodeDefinition]:
    """Nodes reachable from ``start`` (default: the ticket's start node), BFS order."""
    first = start if start is not None else ticket_def.start_node
    seen = [first]
    queue = deque([first])
    while queue:
        cur = node_of(ticket_def, queue.popleft())
        for target in cur.outcomes.values():
            if target not in TERMINALS and target not in seen:
                seen.append(target)
                queue.append(target)
    return [node_of(ticket_def, n) for n in seen]


def distance_to_terminal(ticket_def: TicketDefinition) -> dict[str, int]:
    """Fewest node completions from each node to a terminal (1 = the node can exit directly).

    Nodes that cannot exit are absent (a validated definition has none).
    """
    reverse: dict[str, set[str]] = {n.name: set() for n in ticket_def.nodes}
    dist: dict[str, int] = {}
    queue: deque[str] = deque()
    for n in ticket_def.nodes:
        for target in n.outcomes.values():
            if target in TERMINALS:
                if n.name not in dist:
                    dist[n.name] = 1
                    queue.append(n.name)
            else:
                reverse.setdefault(target, set()).add(n.name)
    while queue:
        cur = queue.popleft()
        for prev in reverse.get(cur, ()):
            if prev not in dist:
                dist[prev] = dist[cur] + 1
                queue.append(prev)
    return dist
