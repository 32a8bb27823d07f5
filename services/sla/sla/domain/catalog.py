"""The workflow catalog as the SLA sees it: every node a ticket can enter, as data.

The SLA service does not read the EOMS bridge's tables or import its code. It ships a projection
of the bridge's workflow catalog (`sla/catalog/workflows.yaml`, generated from
`eoms_bridge/workflows` by `python -m devtools.sla_catalog`; a test fails when the two differ):
per business type, the ticket kinds it opens and, per ticket kind, its nodes with their roles.
That is all a policy can name, so it is what the policy lint (`sla.domain.lint`) and the matrix
export check rules against.

A node's role is fixed by its workflow (the bridge reports the node's role on `node_entered`), so a
node of the catalog is one `NodeRef(business_type, ticket_kind, node, role)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from pydantic import Field, ValidationError

from backbone.shapes import FrozenClosedModel
from sla.domain.errors import PolicyError


class NodeRef(NamedTuple):
    """One node of one ticket kind of one business type, with the role that works it."""

    business_type: str
    ticket_kind: str
    node: str
    role: str

    @property
    def product(self) -> str:
        return self.business_type.partition(".")[0]


class CatalogNode(FrozenClosedModel):
    name: str = Field(min_length=1)
    role: str = Field(min_length=1)
    title_zh: str | None = None


class CatalogTicket(FrozenClosedModel):
    kind: str = Field(min_length=1)
    title_zh: str | None = None
    nodes: tuple[CatalogNode, ...] = Field(min_length=1)


class CatalogWorkflow(FrozenClosedModel):
    business_type: str = Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
    workflow_id: str
    version: int
    title_zh: str | None = None
    tickets: tuple[CatalogTicket, ...] = Field(min_length=1)


class CatalogData(FrozenClosedModel):
    source: str = ""
    workflows: tuple[CatalogWorkflow, ...]


class NodeCatalog:
    """The nodes of every workflow the SLA is told about (immutable), with the sets a lint asks."""

    def __init__(self, workflows: Iterable[CatalogWorkflow] = ()) -> None:
        self.workflows: tuple[CatalogWorkflow, ...] = tuple(sorted(workflows, key=lambda w: w.business_type))
        types = [w.business_type for w in self.workflows]
        if dup := sorted({t for t in types if types.count(t) > 1}):
            raise PolicyError(f"workflow catalog: business type(s) listed twice: {dup}")
        nodes: list[NodeRef] = []
        self._titles: dict[tuple[str, ...], str] = {}
        for w in self.workflows:
            if w.title_zh:
                self._titles[(w.business_type,)] = w.title_zh
            for t in w.tickets:
                for n in t.nodes:
                    nodes.append(NodeRef(w.business_type, t.kind, n.name, n.role))
                    if n.title_zh:
                        self._titles[(w.business_type, t.kind, n.name)] = n.title_zh
        self.nodes: tuple[NodeRef, ...] = tuple(nodes)
        self._node_set = frozenset(nodes)
        self.business_types = frozenset(n.business_type for n in nodes)
        self.products = frozenset(n.product for n in nodes)
        self.ticket_kinds = frozenset(n.ticket_kind for n in nodes)
        self.node_names = frozenset(n.node for n in nodes)
        self.roles = frozenset(n.role for n in nodes)
        self._roles_of_node: dict[str, set[str]] = {}
        for ref in nodes:
            self._roles_of_node.setdefault(ref.node, set()).add(ref.role)

    def __iter__(self) -> Iterator[NodeRef]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def __contains__(self, item: object) -> bool:
        return item in self._node_set

    def roles_of_node(self, node: str) -> frozenset[str]:
        return frozenset(self._roles_of_node.get(node, ()))

    def find(self, business_type: str, ticket_kind: str, node: str) -> NodeRef | None:
        for n in self.nodes:
            if (n.business_type, n.ticket_kind, n.node) == (business_type, ticket_kind, node):
                return n
        return None

    def business_title(self, business_type: str) -> str | None:
        return self._titles.get((business_type,))

    def node_title(self, ref: NodeRef) -> str | None:
        return self._titles.get((ref.business_type, ref.ticket_kind, ref.node))

    def merged(self, other: NodeCatalog) -> NodeCatalog:
        """This catalog and another's workflows (a business type in both is an error)."""
        return NodeCatalog((*self.workflows, *other.workflows))


def parse_catalog(data: Mapping[str, Any], source: str = "catalog") -> NodeCatalog:
    """Validate catalog data (`{workflows: [...]}`); a PolicyError names the problems."""
    try:
        parsed = CatalogData.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise PolicyError(f"{source}: invalid workflow catalog: {problems}") from exc
    return NodeCatalog(parsed.workflows)


__all__ = ["CatalogData", "CatalogNode", "CatalogTicket", "CatalogWorkflow", "NodeCatalog", "NodeRef",
           "parse_catalog"]
