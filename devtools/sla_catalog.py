"""Write (or check) the SLA service's copy of the EOMS workflow catalog.

    .venv/bin/python -m devtools.sla_catalog          # rewrite services/sla/sla/catalog/workflows.yaml
    .venv/bin/python -m devtools.sla_catalog --check  # exit 1 if it differs from eoms_bridge/workflows

The SLA service may not read the bridge's tables nor import its code, yet its policy lint needs the
nodes a ticket can enter. So the SLA ships a projection of the bridge's catalog as data: per business
type (the latest version of its workflow), the ticket kinds and, per kind, the nodes with their roles
and Chinese titles. This tool (a dev tool: it imports both services) generates it; the test
`tests/contract/test_contract_sla_catalog.py` fails when a workflow changed and the copy was not
regenerated, so a workflow change and its SLA review land in the same commit.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from devtools.infra import PROJECT_ROOT
from eoms_bridge.workflows_loader import DEFAULT_WORKFLOW_DIR, load_catalog
from sla.workflow_catalog import DEFAULT_CATALOG_PATH

HEADER = """\
# The EOMS workflow catalog as the SLA service sees it: every node a ticket can enter, with its role.
# GENERATED from {source} by `python -m devtools.sla_catalog`: do not edit by hand.
# The SLA's policy lint and matrix export read it (docs/sla.md, "The workflow catalog").
"""


def projection(workflow_dir: Path = DEFAULT_WORKFLOW_DIR) -> dict[str, Any]:
    """The catalog data the SLA reads, from the bridge's workflow files (latest version per business type)."""
    catalog = load_catalog(workflow_dir)
    try:
        source = str(workflow_dir.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        source = str(workflow_dir)
    workflows = []
    for wf in catalog.all_latest():
        tickets = []
        for t in wf.tickets:
            nodes = []
            for n in t.nodes:
                node: dict[str, Any] = {"name": n.name, "role": n.role.value}
                if n.title_zh:
                    node["title_zh"] = n.title_zh
                nodes.append(node)
            ticket: dict[str, Any] = {"kind": t.kind.value}
            if t.title_zh:
                ticket["title_zh"] = t.title_zh
            tickets.append({**ticket, "nodes": nodes})
        entry: dict[str, Any] = {"business_type": wf.business_type, "workflow_id": wf.id, "version": wf.version}
        if wf.title_zh:
            entry["title_zh"] = wf.title_zh
        workflows.append({**entry, "tickets": tickets})
    return {"source": source, "workflows": workflows}


def _scalar(value: Any) -> str:
    # JSON strings are YAML double-quoted scalars; plain identifiers and numbers stay bare.
    if isinstance(value, str) and value.replace("_", "").replace(".", "").isalnum() and value.isascii():
        return value
    return json.dumps(value, ensure_ascii=False)


def _flow(mapping: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in mapping.items()) + "}"


def render(data: dict[str, Any]) -> str:
    """The catalog as YAML, one line per node (reviewable diffs)."""
    out = [HEADER.format(source=data["source"]), f"source: {data['source']}", "workflows:"]
    for wf in data["workflows"]:
        out.append(f"- business_type: {wf['business_type']}")
        for key in ("workflow_id", "version", "title_zh"):
            if key in wf:
                out.append(f"  {key}: {_scalar(wf[key])}")
        out.append("  tickets:")
        for t in wf["tickets"]:
            out.append(f"  - kind: {t['kind']}")
            if "title_zh" in t:
                out.append(f"    title_zh: {_scalar(t['title_zh'])}")
            out.append("    nodes:")
            out.extend(f"    - {_flow(n)}" for n in t["nodes"])
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--workflows", type=Path, default=DEFAULT_WORKFLOW_DIR, help="the bridge's workflow folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_CATALOG_PATH)
    args = parser.parse_args()
    text = render(projection(args.workflows))
    if args.check:
        if not args.out.exists() or args.out.read_text(encoding="utf-8") != text:
            print(f"{args.out} is stale; run python -m devtools.sla_catalog", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
