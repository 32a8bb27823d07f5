"""Graph checks of a workflow definition: every problem found, each naming workflow, ticket and node.

A ticket's nodes must form a well-formed graph (unique names, known start node and targets),
every node must be reachable from the start and able to reach a terminal, and some node must
resolve the ticket. Across a workflow's tickets: unique kinds and acyclic, known dependencies.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from backbone.vocabulary import TicketKind
from eoms_bridge.domain.workflow.terms import TERMINALS, Terminal

if TYPE_CHECKING:
    from eoms_bridge.domain.workflow.definition import NodeDefinition, TicketDefinition, WorkflowDefinition

__all__ = ["ticket_problems", "workflow_problems"]


def ticket_problems(ticket: TicketDefinition, where: str) -> list[str]:
    """Every graph problem of one ticket; ``where`` prefixes each message."""
    out: list[str] = []
    here = f"{where}, ticket {ticket.kind.value!r}"
    names = [n.name for n in ticket.nodes]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            out.append(f"{here}: duplicate node {name!r}")
        seen.add(name)
    if ticket.start_node not in seen:
        out.append(f"{here}: start_node {ticket.start_node!r} is not a node of the ticket")
    for n in ticket.nodes:
        for outcome, target in n.outcomes.items():
            if target not in TERMINALS and target not in seen:
                out.append(f"{here}, node {n.name!r}: outcome {outcome!r} goes to unknown node {target!r}")
    if out:
        return out  # the graph is not well formed; reachability would only add noise
    edges = {n.name: [t for t in n.outcomes.values() if t not in TERMINALS] for n in ticket.nodes}
    reachable = _reachable(ticket.start_node, edges)
    for name in names:
        if name not in reachable:
            out.append(f"{here}, node {name!r}: unreachable from start_node {ticket.start_node!r}")
    exits = _can_exit(ticket.nodes)
    for name in names:
        if name in reachable and name not in exits:
            out.append(
                f"{here}, node {name!r}: cycle without exit (no path from this node "
                f"reaches {' or '.join(sorted(TERMINALS))})"
            )
    if not any(Terminal.RESOLVED.value in n.outcomes.values() for n in ticket.nodes):
        out.append(f"{here}: no node has an outcome leading to {Terminal.RESOLVED.value!r}")
    return out


def workflow_problems(workflow: WorkflowDefinition) -> list[str]:
    """Every problem of a workflow definition, each naming the workflow/ticket/node."""
    label = workflow.label
    out: list[str] = []
    kinds = [t.kind for t in workflow.tickets]
    if len(set(kinds)) != len(kinds):
        dup = sorted({k.value for k in kinds if kinds.count(k) > 1})
        out.append(f"{label}: duplicate ticket kind(s) {dup}")
    present = set(kinds)
    for t in workflow.tickets:
        for dep in t.depends_on:
            if dep == t.kind:
                out.append(f"{label}, ticket {t.kind.value!r}: depends on itself")
            elif dep not in present:
                out.append(
                    f"{label}, ticket {t.kind.value!r}: depends on ticket kind "
                    f"{dep.value!r} which is not in the workflow"
                )
    cycle = _dependency_cycle({t.kind: [d for d in t.depends_on if d != t.kind] for t in workflow.tickets})
    if cycle:
        out.append(f"{label}: dependency cycle between tickets {' -> '.join(k.value for k in cycle)}")
    for t in workflow.tickets:
        out.extend(ticket_problems(t, label))
    return out


def _reachable(start: str, edges: Mapping[str, Iterable[str]]) -> set[str]:
    seen = {start}
    queue = deque([start])
    while queue:
        cur = queue.popleft()
        for nxt in edges.get(cur, ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _can_exit(nodes: Iterable[NodeDefinition]) -> set[str]:
    """Names of nodes from which some path reaches a terminal (reverse BFS from terminals)."""
    nodes = list(nodes)
    reverse: dict[str, set[str]] = {n.name: set() for n in nodes}
    ok: set[str] = set()
    for n in nodes:
        for target in n.outcomes.values():
            if target in TERMINALS:
                ok.add(n.name)
            elif target in reverse:
                reverse[target].add(n.name)
    queue = deque(ok)
    while queue:
        cur = queue.popleft()
        for prev in reverse.get(cur, ()):
            if prev not in ok:
                ok.add(prev)
                queue.append(prev)
    return ok


def _dependency_cycle(deps: Mapping[TicketKind, list[TicketKind]]) -> list[TicketKind] | None:
    white, grey, black = 0, 1, 2
    color = {k: white for k in deps}
    stack: list[TicketKind] = []

    def visit(k: TicketKind) -> list[TicketKind] | None:
        color[k] = grey
        stack.append(k)
        for d in deps.get(k, []):
            if d not in color:
                continue
            if color[d] == grey:
                return [*stack[stack.index(d) :], d]
            if color[d] == white:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        color[k] = black
        return None

    for k in deps:
        if color[k] == white:
            found = visit(k)
            if found:
                return found
    return None
