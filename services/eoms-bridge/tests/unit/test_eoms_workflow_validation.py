"""Workflow definitions: the shipped catalog loads; bad definitions are rejected clearly."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from backbone.vocabulary import GENERIC_COMPLAINT, TicketKind, role_satisfies
from backbone.vocabulary import PRODUCT_IDS as PRODUCTS
from backbone.vocabulary import NodeRole as Role
from backbone.vocabulary import ProductId as Product
from backbone.vocabulary import WorkflowKind as BusinessKind
from eoms_bridge.domain.errors import WorkflowDefinitionError, WorkflowNotFoundError
from eoms_bridge.domain.workflow import (
    NodeAction,
    Terminal,
    WorkflowCatalog,
    WorkflowDefinition,
    parse_workflow,
)
from eoms_bridge.workflows_loader import load_catalog


def make_workflow(**overrides: Any) -> dict[str, Any]:
    """A small valid workflow as raw data (deep-copied so tests can mutate it)."""
    wf: dict[str, Any] = {
        "id": "vpmn.opening",
        "version": 1,
        "business_type": "vpmn.opening",
        "tickets": [
            {
                "kind": "resource_confirmation",
                "start_node": "check",
                "nodes": [
                    {"name": "check", "role": "network_resource", "outcomes": {"ok": "review", "no": "$rejected"}},
                    {"name": "review", "role": "supervisor", "outcomes": {"approved": "$resolved", "redo": "check"}},
                ],
            },
            {
                "kind": "service_opening",
                "depends_on": ["resource_confirmation"],
                "start_node": "produce",
                "nodes": [
                    {"name": "produce", "role": "data_production", "outcomes": {"done": "test"}},
                    {"name": "test", "role": "noc_tester", "outcomes": {"passed": "$resolved", "failed": "produce"}},
                ],
            },
        ],
    }
    wf.update(overrides)
    return copy.deepcopy(wf)


def _problems_of(data: dict[str, Any]) -> str:
    with pytest.raises(WorkflowDefinitionError) as exc:
        parse_workflow(data, source="test.yaml")
    return str(exc.value)


# ----------------------------------------------------------------- shipped catalog
def test_shipped_catalog_loads(catalog: WorkflowCatalog) -> None:
    assert len(catalog) >= 29
    nodes = sum(w.node_count for w in catalog)
    assert 200 <= nodes <= 500


def test_shipped_catalog_covers_every_product(catalog: WorkflowCatalog) -> None:
    products = {w.product.value for w in catalog if w.product is not None}
    assert products == PRODUCTS
    assert [w.business_type for w in catalog if w.product is None] == [GENERIC_COMPLAINT]
    for p in Product:
        for k in BusinessKind:
            assert catalog.latest(f"{p.value}.{k.value}").business_type == f"{p.value}.{k.value}"


def test_shipped_opening_flows_chain_confirmation_reservation_opening(catalog: WorkflowCatalog) -> None:
    for w in catalog:
        if w.business_kind is not BusinessKind.OPENING:
            continue
        assert [t.kind for t in w.tickets] == [
            TicketKind.RESOURCE_CONFIRMATION,
            TicketKind.RESOURCE_PREOCCUPATION,
            TicketKind.SERVICE_OPENING,
        ]
        assert w.ticket(TicketKind.RESOURCE_PREOCCUPATION).depends_on == (TicketKind.RESOURCE_CONFIRMATION,)
        assert w.ticket(TicketKind.SERVICE_OPENING).depends_on == (TicketKind.RESOURCE_PREOCCUPATION,)
        # resource unavailable goes back to the CRM as a rejection
        rc = w.ticket(TicketKind.RESOURCE_CONFIRMATION)
        assert rc.node("resource_check").outcomes["resource_unavailable"] == Terminal.REJECTED.value


def test_shipped_complaints_use_complaint_ticket(catalog: WorkflowCatalog) -> None:
    for w in catalog:
        if w.business_kind is BusinessKind.COMPLAINT:
            assert [t.kind for t in w.tickets] == [TicketKind.COMPLAINT_FAULT]


def test_generic_complaint_triages_at_the_complaint_desk_then_routes_by_category(catalog: WorkflowCatalog) -> None:
    w = catalog.latest(GENERIC_COMPLAINT)
    assert w.product is None and w.business_kind is BusinessKind.COMPLAINT
    (t,) = w.tickets
    assert t.kind is TicketKind.COMPLAINT_FAULT and t.start_node == "complaint_registration"
    assert t.node("complaint_registration").outcomes["registered"] == "complaint_triage"
    triage = t.node("complaint_triage")
    assert triage.role is Role.COMPLAINT_DESK
    # the CRM's complaint categories (crm.domain.vocabulary.ComplaintCategory; tests/contract checks them)
    assert triage.outcomes == {"fault": "fault_location", "service_quality": "preliminary_diagnosis",
                               "billing": "business_handling", "business_handling": "business_handling",
                               "other": "business_handling"}
    # Past the triage, the nodes and roles of the per-product complaint workflows (so are their SLA rules).
    shared = {n.name: n.role for n in catalog.latest("dedicated_line_data.complaint").tickets[0].nodes}
    for n in t.nodes:
        if n.name not in ("complaint_triage", "fault_repair"):
            assert shared[n.name] is n.role, n.name
    assert t.node("fault_repair").role is Role.NETWORK_STAFF


def test_only_the_generic_complaint_names_no_product() -> None:
    for bad in ("generic.opening", "complaint", "teleport.complaint"):
        assert "business_type" in _problems_of(make_workflow(id="x", business_type=bad))


def test_shipped_nodes_have_chinese_titles(catalog: WorkflowCatalog) -> None:
    for w in catalog:
        for t in w.tickets:
            for n in t.nodes:
                assert n.title_zh


def test_load_catalog_from_directory_and_versions(tmp_path: Path) -> None:
    v1 = make_workflow()
    v2 = make_workflow(version=2)
    v2["tickets"][1]["nodes"][1]["outcomes"]["passed"] = "trial"
    v2["tickets"][1]["nodes"].append(
        {"name": "trial", "role": "account_manager", "outcomes": {"ok": "$resolved", "declined": "$rejected"}}
    )
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(v1), encoding="utf-8")
    (tmp_path / "b.yml").write_text(yaml.safe_dump_all([v2]), encoding="utf-8")
    cat = load_catalog(tmp_path)
    assert len(cat) == 2
    assert cat.versions("vpmn.opening") == [1, 2]
    assert cat.latest("vpmn.opening").version == 2
    # a running ticket keeps the version it started on
    assert not cat.get("vpmn.opening", 1).ticket("service_opening").has_node("trial")
    assert cat.get("vpmn.opening", 2).ticket("service_opening").has_node("trial")
    with pytest.raises(WorkflowNotFoundError):
        cat.get("vpmn.opening", 3)
    with pytest.raises(WorkflowNotFoundError):
        cat.latest("m2m.opening")


def test_load_catalog_reports_every_bad_file(tmp_path: Path) -> None:
    bad = make_workflow()
    bad["tickets"][0]["nodes"][0]["outcomes"]["ok"] = "nowhere"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad), encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("id: [unclosed", encoding="utf-8")
    (tmp_path / "good.json").write_text('{"id": "x"}', encoding="utf-8")
    with pytest.raises(WorkflowDefinitionError) as exc:
        load_catalog(tmp_path)
    msg = str(exc.value)
    assert "bad.yaml" in msg and "unknown node 'nowhere'" in msg
    assert "broken.yaml: cannot parse" in msg
    assert "good.json" in msg
    assert len(exc.value.problems) == 3


def test_catalog_rejects_conflicting_redefinition() -> None:
    cat = WorkflowCatalog([parse_workflow(make_workflow())])
    cat.add(parse_workflow(make_workflow()))  # identical: no-op
    assert len(cat) == 1
    changed = make_workflow()
    changed["tickets"][0]["nodes"][0]["role"] = "network_staff"
    with pytest.raises(WorkflowDefinitionError, match="publish a new version"):
        cat.add(parse_workflow(changed))
    with pytest.raises(WorkflowDefinitionError, match="already served by workflow"):
        cat.add(parse_workflow(make_workflow(id="vpmn.opening.alt")))
    with pytest.raises(WorkflowDefinitionError, match="differs from"):
        cat.add(parse_workflow(make_workflow(version=2, business_type="m2m.opening")))


# ---------------------------------------------------------------- bad definitions
def test_valid_minimal_workflow() -> None:
    wf = parse_workflow(make_workflow())
    assert isinstance(wf, WorkflowDefinition)
    assert wf.product is Product.VPMN and wf.business_kind is BusinessKind.OPENING
    assert wf.node_count == 4
    assert wf.ticket("service_opening").node("produce").actions == frozenset(NodeAction)


def test_unknown_next_node_rejected() -> None:
    data = make_workflow()
    data["tickets"][0]["nodes"][0]["outcomes"]["ok"] = "reveiw"
    msg = _problems_of(data)
    assert (
        "workflow 'vpmn.opening' v1, ticket 'resource_confirmation', node 'check': "
        "outcome 'ok' goes to unknown node 'reveiw'"
    ) in msg
    assert msg.startswith("test.yaml: invalid workflow definition 'vpmn.opening' v1")


def test_unknown_start_node_rejected() -> None:
    data = make_workflow()
    data["tickets"][1]["start_node"] = "nope"
    assert "ticket 'service_opening': start_node 'nope' is not a node of the ticket" in _problems_of(data)


def test_unreachable_node_rejected() -> None:
    data = make_workflow()
    data["tickets"][1]["nodes"].append({"name": "orphan", "role": "noc_tester", "outcomes": {"x": "$resolved"}})
    msg = _problems_of(data)
    assert "ticket 'service_opening', node 'orphan': unreachable from start_node 'produce'" in msg


def test_cycle_without_exit_rejected() -> None:
    data = make_workflow()
    data["tickets"][1]["nodes"] = [
        {"name": "produce", "role": "data_production", "outcomes": {"done": "test", "skip": "$resolved"}},
        {"name": "test", "role": "noc_tester", "outcomes": {"passed": "retest"}},
        {"name": "retest", "role": "noc_tester", "outcomes": {"again": "test"}},
    ]
    msg = _problems_of(data)
    assert "ticket 'service_opening', node 'test': cycle without exit" in msg
    assert "node 'retest': cycle without exit" in msg
    assert "node 'produce': cycle" not in msg


def test_unknown_role_rejected() -> None:
    data = make_workflow()
    data["tickets"][0]["nodes"][1]["role"] = "janitor"
    msg = _problems_of(data)
    assert "workflow 'vpmn.opening' v1, ticket 'resource_confirmation', node 'review', role: Input should be" in msg
    assert "(got 'janitor')" in msg


def test_unknown_terminal_rejected() -> None:
    data = make_workflow()
    data["tickets"][0]["nodes"][1]["outcomes"]["approved"] = "$done"
    assert "outcome 'approved' points to unknown terminal '$done'" in _problems_of(data)


def test_dependency_on_missing_ticket_rejected() -> None:
    data = make_workflow()
    data["tickets"][1]["depends_on"] = ["resource_preoccupation"]
    msg = _problems_of(data)
    assert (
        "ticket 'service_opening': depends on ticket kind 'resource_preoccupation' which is not in the workflow" in msg
    )


def test_dependency_cycle_rejected() -> None:
    data = make_workflow()
    data["tickets"][0]["depends_on"] = ["service_opening"]
    msg = _problems_of(data)
    assert "dependency cycle between tickets" in msg
    assert "resource_confirmation" in msg and "service_opening" in msg


def test_self_dependency_rejected() -> None:
    data = make_workflow()
    data["tickets"][0]["depends_on"] = ["resource_confirmation"]
    assert "ticket 'resource_confirmation': depends on itself" in _problems_of(data)


def test_duplicate_node_and_ticket_rejected() -> None:
    data = make_workflow()
    data["tickets"][0]["nodes"].append(dict(data["tickets"][0]["nodes"][0]))
    data["tickets"].append(dict(data["tickets"][1]))
    msg = _problems_of(data)
    assert "duplicate node 'check'" in msg
    assert "duplicate ticket kind(s) ['service_opening']" in msg


def test_no_resolution_rejected() -> None:
    data = make_workflow()
    data["tickets"][0]["nodes"][1]["outcomes"] = {"approved": "$rejected", "redo": "check"}
    assert "no node has an outcome leading to '$resolved'" in _problems_of(data)


@pytest.mark.parametrize(
    ("business_type", "fragment"),
    [("vpmn", "must be '<product>.<kind>'"), ("fax.opening", "fax.opening"), ("vpmn.upgrade", "vpmn.upgrade")],
)
def test_bad_business_type_rejected(business_type: str, fragment: str) -> None:
    assert fragment in _problems_of(make_workflow(business_type=business_type))


def test_node_without_complete_or_half_suspend_rejected() -> None:
    data = make_workflow()
    data["tickets"][0]["nodes"][0]["actions"] = ["accept", "return"]
    assert "'complete' must be an allowed action" in _problems_of(data)
    data["tickets"][0]["nodes"][0]["actions"] = ["accept", "complete", "suspend"]
    assert "'suspend' and 'resume' go together" in _problems_of(data)


def test_unknown_field_and_empty_outcomes_rejected() -> None:
    data = make_workflow()
    data["tickets"][0]["nodes"][0]["next"] = "review"
    assert "next" in _problems_of(data)
    data = make_workflow()
    data["tickets"][0]["nodes"][0]["outcomes"] = {}
    assert "outcomes" in _problems_of(data)


def test_problems_list_collects_everything() -> None:
    data = make_workflow()
    data["tickets"][0]["nodes"][0]["outcomes"]["ok"] = "x1"
    data["tickets"][1]["nodes"][0]["outcomes"]["done"] = "x2"
    with pytest.raises(WorkflowDefinitionError) as exc:
        parse_workflow(data)
    assert len(exc.value.problems) == 2


def test_role_satisfies() -> None:
    assert not role_satisfies(Role.NETWORK_STAFF, Role.NOC_TESTER)  # no catch-all since issue 13
    assert role_satisfies("noc_tester", "noc_tester")
    assert not role_satisfies(Role.NOC_TESTER, Role.NETWORK_STAFF)
    assert not role_satisfies(Role.NETWORK_STAFF, Role.ACCOUNT_MANAGER)
    assert not role_satisfies(Role.SUPERVISOR, Role.PARTNER_SI)
