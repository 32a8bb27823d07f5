"""How the API names nodes and outcomes for people: in zh-CN and en, beside their codes.

A node's Chinese title is its workflow's own `title_zh` when it has one ("V网数据制作"), else the suite's
label of the node name (`backbone/labels.yaml`: "数据制作"); its English one the workflow's `title_en`,
else the label ("data production"). Outcomes are labelled by name. A code without a label reads
humanized, never raw (`backbone.labels`).
"""

from __future__ import annotations

import copy
from typing import Any

from backbone.labels import LabelCategory, LocalText, labels
from eoms_bridge.domain.workflow import TicketDefinition


def node_title(definition: TicketDefinition | None, node: str) -> LocalText:
    found = definition.node(node) if definition is not None and definition.has_node(node) else None
    lab = labels()
    zh = found.title_zh if found is not None and found.title_zh else lab.label(LabelCategory.NODE, node, "zh-CN")
    en = found.title_en if found is not None and found.title_en else lab.label(LabelCategory.NODE, node, "en")
    return LocalText(zh_cn=zh, en=en)


def outcome_label(outcome: str) -> LocalText:
    return labels().text(LabelCategory.OUTCOME, outcome)


def with_titles(definition: dict[str, Any]) -> dict[str, Any]:
    """A stored definition with `title_zh` and `title_en` on every node (from the labels where it has
    none), so a screen draws the graph in either language; publishing it back is valid as it is."""
    out = copy.deepcopy(definition)
    lab = labels()
    for ticket in out.get("tickets", []):
        for node in ticket.get("nodes", []):
            name = str(node.get("name", ""))
            node.setdefault("title_zh", lab.label(LabelCategory.NODE, name, "zh-CN"))
            node.setdefault("title_en", lab.label(LabelCategory.NODE, name, "en"))
    return out
