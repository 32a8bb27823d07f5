"""Raw data (YAML, JSON, an admin API body) → a validated workflow definition, or every problem.

Pydantic's errors are rewritten to name the workflow, ticket and node concerned (by their id,
kind and name in the raw data, not by list index), so an operator can fix a file from the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from eoms_bridge.domain.errors import WorkflowDefinitionError
from eoms_bridge.domain.workflow.definition import WorkflowDefinition

__all__ = ["parse_workflow"]


def parse_workflow(data: Any, source: str = "<data>") -> WorkflowDefinition:
    """Validate raw data into a workflow definition.

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
