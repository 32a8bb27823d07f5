"""The policy lint, explain and the matrix export on a small catalog."""

from __future__ import annotations

from typing import Any

import pytest

from sla.domain.catalog import NodeRef, parse_catalog
from sla.domain.errors import PolicyError
from sla.domain.explain import CSV_COLUMNS, explain, matrix_csv_rows, matrix_json
from sla.domain.lint import PolicyLintError, analyse, check
from sla.domain.policy import Query, parse_policy_set

CATALOG = parse_catalog({"workflows": [
    {"business_type": "dl.complaint", "workflow_id": "dl.complaint", "version": 1, "title_zh": "专线投诉",
     "tickets": [{"kind": "complaint_fault", "nodes": [
         {"name": "diagnosis", "role": "network_staff"},
         {"name": "fault_repair", "role": "field_engineer", "title_zh": "故障处理"},
         {"name": "revisit", "role": "complaint_desk"}]}]},
    {"business_type": "vpmn.complaint", "workflow_id": "vpmn.complaint", "version": 1,
     "tickets": [{"kind": "complaint_fault", "nodes": [
         {"name": "diagnosis", "role": "network_staff"},
         {"name": "fault_repair", "role": "core_network"}]}]},
]})


def rule(rid: str, limit: float, **keys: Any) -> dict[str, Any]:
    return {"id": rid, "limit_minutes": limit, "clock": "calendar", **keys}


def policy(*rules: dict[str, Any]) -> Any:
    return parse_policy_set({"version": "t", "rules": list(rules)})


GOOD = policy(
    rule("complaint.a", 60, ticket_kind="complaint_fault", customer_tier="A"),
    rule("complaint", 120, ticket_kind="complaint_fault"),
    rule("desk", 240, ticket_kind="complaint_fault", role="complaint_desk"),
    rule("desk.a", 90, ticket_kind="complaint_fault", role="complaint_desk", customer_tier="A"),
    rule("dl.repair.a", 240, business_type="dl", node="fault_repair", customer_tier="A",
         warnings={"percent": [50], "minutes_before": [30]},
         escalation=[{"level": 1, "notify_role": "supervisor", "after_minutes": 0},
                     {"level": 2, "notify_role": "department_head", "after_minutes": 60}]),
    rule("dl.repair", 480, business_type="dl", node="fault_repair"),
)


def test_a_policy_whose_every_rule_wins_passes() -> None:
    report = check(GOOD, CATALOG)
    assert report.dead == () and report.unmatched == [] and report.at_catch_all == []
    assert report.summary()["queries"] == 15
    assert report.wins["dl.repair.a"] == 1 and report.wins["dl.repair"] == 2


def test_a_shadowed_rule_is_refused_with_the_rules_that_shadow_it() -> None:
    # The kind-wide default per tier shadows a kind-wide role rule without a tier (tier before role).
    ps = policy(rule("complaint.a", 60, ticket_kind="complaint_fault", customer_tier="A"),
                rule("complaint.b", 120, ticket_kind="complaint_fault", customer_tier="B"),
                rule("complaint.c", 200, ticket_kind="complaint_fault", customer_tier="C"),
                rule("desk", 240, ticket_kind="complaint_fault", role="complaint_desk"))
    with pytest.raises(PolicyLintError) as info:
        check(ps, CATALOG)
    (dead,) = info.value.dead
    assert dead.rule_id == "desk" and dead.matched == 3
    assert dict(dead.shadowed_by) == {"complaint.a": 1, "complaint.b": 1, "complaint.c": 1}
    assert info.value.errors == [{"field": "rules.3", "message": dead.message, "rule_id": "desk",
                                  "shadowed_by": "complaint.a"}]
    assert "rule 'desk' (#3) never wins" in dead.message and "'complaint.b' (1)" in dead.message
    assert isinstance(info.value, PolicyError)  # a 422 problem


@pytest.mark.parametrize(
    ("keys", "why"),
    [
        ({"node": "site_survey"}, "names node 'site_survey', which no workflow of the catalog has"),
        ({"business_type": "m2m"}, "names product 'm2m', which no workflow"),
        ({"business_type": "dl.opening"}, "names business type 'dl.opening', which no workflow"),
        ({"ticket_kind": "service_opening"}, "names ticket kind 'service_opening'"),
        ({"role": "partner_si"}, "names role 'partner_si', which no node of the catalog has"),
        ({"node": "fault_repair", "role": "network_staff"},
         "no node has node=fault_repair, role=network_staff together (node 'fault_repair' is worked by "
         "core_network, field_engineer)"),
        ({"business_type": "vpmn", "node": "revisit"}, "no node has node=revisit, business_type=vpmn together"),
    ],
)
def test_a_rule_naming_what_the_catalog_does_not_have_is_refused(keys: dict[str, str], why: str) -> None:
    ps = policy(*[r.model_dump() for r in GOOD.rules], rule("ghost", 30, **keys))
    with pytest.raises(PolicyLintError) as info:
        check(ps, CATALOG)
    (dead,) = info.value.dead
    assert dead.rule_id == "ghost" and dead.index == 6 and dead.matched == 0 and dead.shadowed_by == ()
    assert why in dead.message
    assert info.value.errors[0]["field"] == "rules.6"


def test_coverage_names_the_catch_all_nodes_the_unmatched_ones_and_the_tier_order() -> None:
    ps = policy(rule("any", 30), rule("any.a", 45, customer_tier="A"), rule("dl.complaint", 60, business_type="dl"))
    report = analyse(ps, CATALOG)
    assert report.dead == ()
    assert [(n.business_type, n.node, tiers) for n, tiers in report.at_catch_all] == [
        ("vpmn.complaint", "diagnosis", ["A", "B", "C"]), ("vpmn.complaint", "fault_repair", ["A", "B", "C"])]
    problems = dict((n.node, p) for n, p in report.tier_order if n.business_type == "vpmn.complaint")
    assert problems["diagnosis"] == "tier A's limit (45 min) is not shorter than C's (30 min)"
    assert all("the same limit for tiers A, B and C (60 min)" in p for n, p in report.tier_order
               if n.business_type == "dl.complaint")
    only_dl = analyse(policy(rule("dl.complaint", 60, business_type="dl")), CATALOG)
    assert [(n.business_type, t) for n, t in only_dl.unmatched] == [("vpmn.complaint", ["A", "B", "C"])] * 2


def test_explain_names_the_winner_the_rules_it_beat_and_why() -> None:
    ex = explain(GOOD, Query("dl.complaint", "complaint_fault", "fault_repair", "A", "field_engineer"))
    assert ex.winner is not None and ex.winner.id == "dl.repair.a"
    assert [(r.id, why) for r, why in ex.beaten] == [
        ("dl.repair", "the winner names the tier ('A'); this rule does not"),
        ("complaint.a", "the winner names the node ('fault_repair'); this rule does not"),
        ("complaint", "the winner names the node ('fault_repair'); this rule does not"),
    ]
    out = ex.as_dict()
    assert out["winner"]["specificity"] == {"node": 1, "business_type": 1, "ticket_kind": 0, "customer_tier": 1,
                                            "role": 0}
    assert out["winner"]["level"] == "node+business_type(product)+customer_tier"
    assert [(r["rule_id"], r["why"]) for r in out["not_matching"]] == []  # desk rules: another node
    ex = explain(GOOD, Query("dl.complaint", "complaint_fault", "revisit", "B", "complaint_desk"))
    assert ex.winner is not None and ex.winner.id == "desk"
    assert [(r.id, why) for r, why in ex.beaten] == [("complaint", "the winner names the role ('complaint_desk'); "
                                                                   "this rule does not")]
    near = [(r.id, why) for r, why in ex.near_misses]  # same business, another node
    assert near == [("dl.repair.a", "node is 'fault_repair', not 'revisit'"),
                    ("dl.repair", "node is 'fault_repair', not 'revisit'")]


def test_explain_a_full_business_type_over_its_product() -> None:
    ps = policy(rule("product", 60, business_type="dl"), rule("full", 30, business_type="dl.complaint"))
    ex = explain(ps, Query("dl.complaint", "complaint_fault", "diagnosis", "B", "network_staff"))
    assert ex.winner is not None and ex.winner.id == "full"
    assert ex.beaten[0][1] == "the winner names the full business type 'dl.complaint'; this rule only the product"


def test_the_matrix_has_every_node_and_tier() -> None:
    rows = matrix_json(GOOD, CATALOG)
    assert len(rows) == len(CATALOG)
    repair = next(r for r in rows if r["business_type"] == "dl.complaint" and r["node"] == "fault_repair")
    assert repair["business_title"] == "专线投诉" and repair["node_title"] == "故障处理"
    assert {t: c["rule_id"] for t, c in repair["tiers"].items()} == {"A": "dl.repair.a", "B": "dl.repair",
                                                                      "C": "dl.repair"}
    a = repair["tiers"]["A"]
    assert a["limit_minutes"] == 240 and a["clock"] == "calendar" and a["calendar"] == "24x7"
    assert a["warnings"] == {"percent": [50], "minutes_before": [30]}
    assert [e["notify_role"] for e in a["escalation"]] == ["supervisor", "department_head"]

    lines = matrix_csv_rows(GOOD, CATALOG)
    assert len(lines) == 3 * len(CATALOG) and all(tuple(line) == CSV_COLUMNS for line in lines)
    line = next(x for x in lines if x["node"] == "fault_repair" and x["tier"] == "A"
                and x["business_type"] == "dl.complaint")
    assert line["limit_minutes"] == "240" and line["limit_hours"] == "4"
    assert line["warnings"] == "50%; 30 min before"
    assert line["escalation"] == "L1 supervisor +0 min → L2 department_head +60 min"


def test_the_catalog_refuses_a_business_type_twice() -> None:
    with pytest.raises(PolicyError, match="listed twice"):
        CATALOG.merged(CATALOG)
    with pytest.raises(PolicyError, match="invalid workflow catalog"):
        parse_catalog({"workflows": [{"business_type": "no_kind", "workflow_id": "x", "version": 1,
                                      "tickets": []}]})
    assert NodeRef("dl.complaint", "complaint_fault", "revisit", "complaint_desk") in CATALOG
