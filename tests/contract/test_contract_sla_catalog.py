"""The SLA's copy of the workflow catalog is the EOMS bridge's catalog (cross-service, no infrastructure).

The SLA service lints its policies against `services/sla/sla/catalog/workflows.yaml` and may not read
the bridge's tables nor import its code; `python -m devtools.sla_catalog` regenerates the copy from
`eoms_bridge/workflows`. When a workflow changes, this fails until the copy is regenerated (and the
SLA policy passes the lint against it: test_sla_default_policy.py).
"""

from __future__ import annotations

import yaml

from devtools.sla_catalog import projection, render
from sla.workflow_catalog import DEFAULT_CATALOG_PATH, load_node_catalog


def test_the_sla_catalog_is_the_bridges_catalog() -> None:
    expected = projection()
    shipped = yaml.safe_load(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8"))
    assert shipped == expected, "services/sla/sla/catalog/workflows.yaml is stale: run python -m devtools.sla_catalog"
    assert DEFAULT_CATALOG_PATH.read_text(encoding="utf-8") == render(expected)


def test_every_node_the_bridge_can_enter_is_in_the_sla_catalog() -> None:
    from eoms_bridge.workflows_loader import load_catalog

    sla_nodes = set(load_node_catalog())
    bridge_nodes = {(wf.business_type, t.kind.value, n.name, n.role.value)
                    for wf in load_catalog().all_latest() for t in wf.tickets for n in t.nodes}
    assert sla_nodes == bridge_nodes
