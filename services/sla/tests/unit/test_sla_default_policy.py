"""The shipped policies against the shipped workflow catalog, node by node and tier by tier.

`sla/catalog/workflows.yaml` is the SLA's copy of the EOMS bridge's workflows (kept equal to them by
tests/contract/test_contract_sla_catalog.py), so these enumerations cover every node a ticket can enter.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from backbone.vocabulary import NETWORK_SUB_ROLES, NodeRole
from sla.domain.lint import analyse, check, is_catch_all, queries_of
from sla.domain.policy import DEFAULT_POLICY_PATH, WILDCARD, Clock, load_policy_set, winner
from sla.workflow_catalog import DEFAULT_CATALOG_PATH, load_node_catalog

ROOT = Path(__file__).resolve().parents[4]
CATALOG = load_node_catalog()
DEFAULT = load_policy_set(DEFAULT_POLICY_PATH)
REPORT = analyse(DEFAULT, CATALOG)
NETWORK_ROLES = {NodeRole.NETWORK_STAFF.value} | {r.value for r in NETWORK_SUB_ROLES}
DEDICATED_LINES = ("dedicated_line_data", "dedicated_line_internet")


def test_the_catalog_is_the_whole_shipped_catalog() -> None:
    assert DEFAULT_CATALOG_PATH.is_file()
    assert len(CATALOG) >= 297 and len(CATALOG.business_types) >= 32
    assert CATALOG.ticket_kinds == {"service_opening", "resource_confirmation", "resource_preoccupation",
                                    "complaint_fault"}


def test_every_rule_of_the_default_policy_wins_somewhere() -> None:
    assert REPORT.dead == ()
    check(DEFAULT, CATALOG)  # what the bootstrap and the admin API run: no PolicyLintError
    assert set(REPORT.wins) == {r.id for r in DEFAULT.rules}


def test_every_node_gets_a_timer_and_none_falls_to_a_catch_all() -> None:
    assert REPORT.unmatched == []
    assert REPORT.at_catch_all == []
    assert not any(is_catch_all(r) for r in DEFAULT.rules)


@pytest.mark.parametrize("node", list(CATALOG), ids=lambda n: f"{n.business_type}/{n.ticket_kind}/{n.node}")
def test_tier_a_is_shorter_than_c_and_b_lies_between_on_every_node(node) -> None:
    a, b, c = (winner(DEFAULT, q) for q in queries_of(node))
    assert a is not None and b is not None and c is not None
    assert a.limit_minutes < c.limit_minutes, (a.id, c.id)
    assert a.limit_minutes <= b.limit_minutes <= c.limit_minutes, (a.id, b.id, c.id)
    # One clock and calendar per node, so the minutes compare like for like.
    assert a.clock == b.clock == c.clock and a.calendar == b.calendar == c.calendar


def test_no_node_is_tier_blind() -> None:
    assert REPORT.tier_order == []


def test_faults_on_dedicated_lines_run_24x7_from_diagnosis_to_the_recovery_test() -> None:
    fault_chain = [n for n in CATALOG if n.product in DEDICATED_LINES and n.ticket_kind == "complaint_fault"
                   and n.role in NETWORK_ROLES]
    assert {n.node for n in fault_chain} >= {"preliminary_diagnosis", "fault_location", "fault_repair",
                                             "transmission_repair", "recovery_test"}
    for node in fault_chain:
        for q in queries_of(node):
            got = winner(DEFAULT, q)
            assert got is not None and got.clock is Clock.CALENDAR, (q, got and got.id)


def test_role_rules_apply() -> None:
    role_rules = [r for r in DEFAULT.rules if r.role != WILDCARD]
    roles = {r.role for r in role_rules}
    assert {"partner_si", "account_manager", "supervisor", "complaint_desk"} <= roles
    for r in role_rules:
        assert REPORT.wins.get(r.id, 0) > 0, f"role rule {r.id} never wins"
    # Each role rule wins on the nodes of its role, and only there.
    for o in REPORT.outcomes:
        for rule in o.winners.values():
            assert rule is not None and rule.role in (WILDCARD, o.node.role)


def test_every_level_of_the_table_is_used() -> None:
    levels = Counter(r.specificity().label() for r in DEFAULT.rules)
    assert {"ticket_kind+customer_tier", "ticket_kind+customer_tier+role",
            "business_type(product)+ticket_kind+customer_tier", "business_type(full)+customer_tier",
            "node", "node+customer_tier", "node+business_type(product)+customer_tier"} <= set(levels)


@pytest.mark.parametrize("path", [DEFAULT_POLICY_PATH.with_name("demo.yaml")])
def test_the_demo_policy_passes_the_lint(path: Path) -> None:
    report = check(load_policy_set(path), CATALOG)
    assert report.tier_order == [] and report.unmatched == []


def test_the_tests_short_policy_passes_the_lint_with_the_tests_workflows() -> None:
    short = load_policy_set(ROOT / "tests" / "fixtures" / "sla_policy_short.yaml")
    with_tests = load_node_catalog(extra=[ROOT / "tests" / "fixtures" / "sla_catalog_slatest.yaml"])
    report = check(short, with_tests)
    assert report.unmatched == []
    assert analyse(short, CATALOG).dead  # without them its slatest rules name a business that does not exist
