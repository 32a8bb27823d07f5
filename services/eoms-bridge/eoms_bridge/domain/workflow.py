"""Workflow definitions as data: which tickets a business type generates and how each flows.

A :class:`WorkflowDefinition` is the "configuration table" of one business type
(``<product>.<kind>``): the ticket kinds it generates, their dependencies, and for each ticket
the nodes it walks. Every node belongs to a role; each outcome of a node names the preset next
node or a terminal marker (``$resolved`` / ``$rejected``), so nobody picks the next handler by hand.

Validation happens when a definition is built (``parse_workflow`` / ``load_catalog``) and reports
every problem found, each naming the workflow, ticket and node concerned.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backbone.vocabulary import PRODUCT_IDS, WORKFLOW_KINDS, NodeRole, ProductId, WorkflowKind
from eoms_bridge.domain.errors import WorkflowDefinitionError, WorkflowNotFoundError

__all__ = [
    "TERMINALS",
    "NodeAction",
    "NodeDefinition",
    "Terminal",
    "TicketDefinition",
    "TicketKind",
    "WorkflowCatalog",
    "WorkflowDefinition",
    "load_catalog",
    "parse_workflow",
]


class TicketKind(StrEnum):
    SERVICE_OPENING = "service_opening"
    RESOURCE_CONFIRMATION = "resource_confirmation"
    RESOURCE_PREOCCUPATION = "resource_preoccupation"
    COMPLAINT_FAULT = "complaint_fault"


class NodeAction(StrEnum):
    ACCEPT = "accept"
    COMPLETE = "complete"
    RETURN = "return"
    SUSPEND = "suspend"
    RESUME = "resume"
    REASSIGN = "reassign"


class Terminal(StrEnum):
    """Terminal markers an outcome may point to instead of a next node."""

    RESOLVED = "$resolved"
    REJECTED = "$rejected"


TERMINALS: Final[frozenset[str]] = frozenset(t.value for t in Terminal)
DEFAULT_ACTIONS: Final[frozenset[NodeAction]] = frozenset(NodeAction)

_NAME_RE: Final = re.compile(r"^[a-z][a-z0-9_]*$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


class NodeDefinition(_Frozen):
    """One step of a ticket: who works it, what they may do, where each outcome leads."""

    name: str
    role: NodeRole
    title_zh: str | None = None
    actions: frozenset[NodeAction] = DEFAULT_ACTIONS
    outcomes: dict[str, str] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, v: str) -> str:
        if not _NAME_RE.match(v) or v.startswith("$"):
            raise ValueError(f"node name {v!r} must match {_NAME_RE.pattern}")
        return v

    @field_validator("outcomes")
    @classmethod
    def _outcome_names(cls, v: dict[str, str]) -> dict[str, str]:
        for outcome, target in v.items():
            if not _NAME_RE.match(outcome):
                raise ValueError(f"outcome name {outcome!r} must match {_NAME_RE.pattern}")
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


class TicketDefinition(_Frozen):
    """The nodes one ticket kind walks inside a workflow. Graph checks run on the workflow."""

    kind: TicketKind
    title_zh: str | None = None
    depends_on: tuple[TicketKind, ...] = ()
    start_node: str
    nodes: tuple[NodeDefinition, ...] = Field(min_length=1)

    def node(self, name: str) -> NodeDefinition:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def has_node(self, name: str) -> bool:
        return any(n.name == name for n in self.nodes)

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes)

    def problems(self, where: str) -> list[str]:
        """Every graph problem of this ticket; ``where`` prefixes each message."""
        out: list[str] = []
        here = f"{where}, ticket {self.kind.value!r}"
        names = [n.name for n in self.nodes]
        seen: set[str] = set()
        for name in names:
            if name in seen:
                out.append(f"{here}: duplicate node {name!r}")
            seen.add(name)
        if self.start_node not in seen:
            out.append(f"{here}: start_node {self.start_node!r} is not a node of the ticket")
        for n in self.nodes:
            for outcome, target in n.outcomes.items():
                if target not in TERMINALS and target not in seen:
                    out.append(f"{here}, node {n.name!r}: outcome {outcome!r} goes to unknown node {target!r}")
        if out:
            return out  # the graph is not well formed; reachability would only add noise
        edges = {n.name: [t for t in n.outcomes.values() if t not in TERMINALS] for n in self.nodes}
        reachable = _reachable(self.start_node, edges)
        for name in names:
            if name not in reachable:
                out.append(f"{here}, node {name!r}: unreachable from start_node {self.start_node!r}")
        exits = _can_exit(self.nodes)
        for name in names:
            if name in reachable and name not in exits:
                out.append(
                    f"{here}, node {name!r}: cycle without exit (no path from this node "
                    f"reaches {' or '.join(sorted(TERMINALS))})"
                )
        if not any(Terminal.RESOLVED.value in n.outcomes.values() for n in self.nodes):
            out.append(f"{here}: no node has an outcome leading to {Terminal.RESOLVED.value!r}")
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


class WorkflowDefinition(_Frozen):
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
        product, sep, kind = v.partition(".")
        if not sep or product not in PRODUCT_IDS or kind not in WORKFLOW_KINDS:
            raise ValueError(
                f"business_type {v!r} must be '<product>.<kind>' with product in "
                f"{sorted(PRODUCT_IDS)} and kind in {sorted(WORKFLOW_KINDS)}"
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
    def product(self) -> ProductId:
        return ProductId(self.business_type.partition(".")[0])

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
        out: list[str] = []
        kinds = [t.kind for t in self.tickets]
        if len(set(kinds)) != len(kinds):
            dup = sorted({k.value for k in kinds if kinds.count(k) > 1})
            out.append(f"{self.label}: duplicate ticket kind(s) {dup}")
        present = set(kinds)
        for t in self.tickets:
            for dep in t.depends_on:
                if dep == t.kind:
                    out.append(f"{self.label}, ticket {t.kind.value!r}: depends on itself")
                elif dep not in present:
                    out.append(
                        f"{self.label}, ticket {t.kind.value!r}: depends on ticket kind "
                        f"{dep.value!r} which is not in the workflow"
                    )
        cycle = _dependency_cycle({t.kind: [d for d in t.depends_on if d != t.kind] for t in self.tickets})
        if cycle:
            out.append(f"{self.label}: dependency cycle between tickets {' -> '.join(k.value for k in cycle)}")
        for t in self.tickets:
            out.extend(t.problems(self.label))
        return out


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


def _describe_loc(data: Any, loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic location into "ticket 'kind', node 'name', field" using the raw data."""
    parts: list[str] = []
    cur: Any = data
    i = 0
    while i < len(loc):
        key = loc[i]
        nxt = loc[i + 1] if i + 1 < len(loc) else None
        if key in ("tickets", "nodes") and isinstance(nxt, int):
            item: Any = None
            if isinstance(cur, Mapping) and isinstance(cur.get(key), list) and nxt < len(cur[key]):
                item = cur[key][nxt]
            label = "ticket" if key == "tickets" else "node"
            ident = item.get("kind" if key == "tickets" else "name") if isinstance(item, Mapping) else None
            parts.append(f"{label} {ident!r}" if ident is not None else f"{label} #{nxt + 1}")
            cur = item
            i += 2
            continue
        parts.append(str(key))
        cur = cur.get(key) if isinstance(cur, Mapping) else None
        i += 1
    return ", ".join(parts)


def _format_validation_error(err: ValidationError, data: Any, label: str) -> list[str]:
    msgs: list[str] = []
    errors = err.errors()
    for e in errors:
        loc = tuple(e["loc"])
        if e["type"] == "too_short" and any(
            len(o["loc"]) > len(loc) and tuple(o["loc"][: len(loc)]) == loc for o in errors
        ):
            continue  # pydantic counts the items that failed as missing; the item errors say more
        msg = str(e["msg"]).removeprefix("Value error, ")
        if e["type"] != "value_error" and isinstance(e.get("input"), str | int | float | bool):
            msg = f"{msg} (got {e['input']!r})"
        where = _describe_loc(data, loc)
        for m in msg.split("; "):
            if m.startswith("workflow "):
                msgs.append(m)  # graph problems already name workflow / ticket / node
            else:
                msgs.append(f"{label}, {where}: {m}" if where else f"{label}: {m}")
    return msgs


def parse_workflow(data: Any, source: str = "<data>") -> WorkflowDefinition:
    """Validate raw data (from YAML, JSON or an admin API body) into a workflow definition.

    Raises :class:`WorkflowDefinitionError` whose message names the source and every problem.
    """
    try:
        return WorkflowDefinition.model_validate(data)
    except ValidationError as err:
        wid = data.get("id") if isinstance(data, Mapping) else None
        ver = data.get("version") if isinstance(data, Mapping) else None
        label = f"workflow {wid!r} v{ver}" if wid is not None else "workflow"
        problems = _format_validation_error(err, data, label)
        head = f"{source}: invalid workflow definition"
        if wid is not None:
            head += f" {wid!r} v{ver}"
        raise WorkflowDefinitionError(head + ":\n  - " + "\n  - ".join(problems), problems) from None


class WorkflowCatalog:
    """All versions of all workflow definitions.

    ``latest`` serves new orders; ``get(id, version)`` serves running tickets, which keep the
    version they started on.
    """

    def __init__(self, definitions: Iterable[WorkflowDefinition] = ()) -> None:
        self._by_key: dict[tuple[str, int], WorkflowDefinition] = {}
        self._type_of_id: dict[str, str] = {}
        self._ids_of_type: dict[str, set[str]] = {}
        for d in definitions:
            self.add(d)

    def add(self, definition: WorkflowDefinition) -> None:
        """Register a definition; re-adding an identical (id, version) is a no-op."""
        key = (definition.id, definition.version)
        existing = self._by_key.get(key)
        if existing is not None:
            if existing == definition:
                return
            raise WorkflowDefinitionError(
                f"{definition.label}: a different definition with this id and version is "
                "already loaded; publish a new version instead"
            )
        known_type = self._type_of_id.get(definition.id)
        if known_type is not None and known_type != definition.business_type:
            raise WorkflowDefinitionError(
                f"{definition.label}: business_type {definition.business_type!r} differs from "
                f"{known_type!r} of earlier versions"
            )
        others = self._ids_of_type.get(definition.business_type, set()) - {definition.id}
        if others:
            raise WorkflowDefinitionError(
                f"{definition.label}: business_type {definition.business_type!r} is already "
                f"served by workflow {sorted(others)[0]!r}"
            )
        self._by_key[key] = definition
        self._type_of_id[definition.id] = definition.business_type
        self._ids_of_type.setdefault(definition.business_type, set()).add(definition.id)

    def latest(self, business_type: str) -> WorkflowDefinition:
        ids = self._ids_of_type.get(business_type)
        if not ids:
            raise WorkflowNotFoundError(f"no workflow for business type {business_type!r}")
        (wid,) = ids
        return self.get(wid, max(self.versions(wid)))

    def get(self, id: str, version: int) -> WorkflowDefinition:
        try:
            return self._by_key[(id, version)]
        except KeyError:
            raise WorkflowNotFoundError(f"no workflow {id!r} version {version}") from None

    def versions(self, id: str) -> list[int]:
        return sorted(v for (i, v) in self._by_key if i == id)

    def business_types(self) -> list[str]:
        return sorted(self._ids_of_type)

    def all_latest(self) -> list[WorkflowDefinition]:
        return [self.latest(bt) for bt in self.business_types()]

    def __iter__(self) -> Iterator[WorkflowDefinition]:
        return iter(sorted(self._by_key.values(), key=lambda d: (d.id, d.version)))

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key


DEFAULT_WORKFLOW_DIR: Final[Path] = Path(__file__).resolve().parent.parent / "workflows"


def _documents(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        raw: Any = json.loads(text)
        docs = raw if isinstance(raw, list) else [raw]
    else:
        docs = []
        for doc in yaml.safe_load_all(text):
            if doc is None:
                continue
            if isinstance(doc, Mapping) and "workflows" in doc and "id" not in doc:
                docs.extend(doc["workflows"])
            elif isinstance(doc, list):
                docs.extend(doc)
            else:
                docs.append(doc)
    return docs


def load_catalog(directory: Path | str | None = None) -> WorkflowCatalog:
    """Load and validate every ``*.yaml`` / ``*.yml`` / ``*.json`` file under ``directory``.

    A file holds one workflow, several YAML documents, a list, or ``{workflows: [...]}``.
    All problems of all files are collected and raised together as
    :class:`WorkflowDefinitionError`. Reading files is the only I/O in the domain package.
    """
    root = Path(directory) if directory is not None else DEFAULT_WORKFLOW_DIR
    if not root.is_dir():
        raise WorkflowDefinitionError(f"{root}: workflow directory not found")
    files = sorted(p for p in root.rglob("*") if p.suffix in {".yaml", ".yml", ".json"})
    catalog = WorkflowCatalog()
    problems: list[str] = []
    for path in files:
        try:
            docs = _documents(path)
        except (yaml.YAMLError, json.JSONDecodeError) as err:
            problems.append(f"{path.name}: cannot parse: {err}")
            continue
        for i, doc in enumerate(docs):
            source = path.name if len(docs) == 1 else f"{path.name}[{i}]"
            try:
                catalog.add(parse_workflow(doc, source))
            except WorkflowDefinitionError as err:
                problems.append(str(err))
    if problems:
        raise WorkflowDefinitionError("\n".join(problems), problems)
    return catalog
