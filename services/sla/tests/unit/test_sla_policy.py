"""SLA policy sets: precedence table, validation errors, the packaged policy files.

The default policy against the shipped workflow catalog (no dead rule, tier order, 24x7 faults) is
enumerated in test_sla_default_policy.py; the resolver's properties in test_sla_precedence_properties.py.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from backbone.vocabulary import Tier
from sla.domain.errors import NoMatchingPolicy, PolicyError
from sla.domain.policy import (
    DEFAULT_POLICY_PATH,
    Clock,
    PolicySet,
    load_policy_set,
    parse_policy_set,
    resolve,
)


def rule(rid: str, limit: Any = 60, **keys: Any) -> dict[str, Any]:
    return {"id": rid, "limit_minutes": limit, **keys}


PRECEDENCE_SET = parse_policy_set(
    {
        "version": "t1",
        "default_calendar": "office",
        "calendars": [{"name": "office"}],
        "rules": [
            rule("any"),
            rule("role", role="partner"),
            rule("tier", customer_tier="A"),
            rule("bt", business_type="vpmn"),
            rule("kind", ticket_kind="complaint_fault"),
            rule("node", node="resource_check"),
            rule("bt_tier", business_type="vpmn", customer_tier="A"),
            rule("kind_tier", ticket_kind="complaint_fault", customer_tier="A"),
            rule("node_role", node="resource_check", role="partner"),
            rule("bt_kind_node", business_type="vpmn", ticket_kind="complaint_fault",
                 node="resource_check"),
        ],
    }
)


@pytest.mark.parametrize(
    ("business_type", "ticket_kind", "node", "tier", "role", "winner"),
    [
        ("m2m", "service_opening", "x", "C", "staff", "any"),
        ("m2m", "service_opening", "x", "C", "partner", "role"),
        ("m2m", "service_opening", "x", "A", "partner", "tier"),  # tier > role
        ("vpmn", "service_opening", "x", "B", "partner", "bt"),  # business_type > role
        ("vpmn", "service_opening", "x", "B", "staff", "bt"),
        ("vpmn", "complaint_fault", "x", "B", "staff", "bt"),  # business_type > ticket_kind
        ("m2m", "service_opening", "resource_check", "B", "staff", "node"),
        ("m2m", "complaint_fault", "resource_check", "B", "staff", "node"),  # node > kind
        ("vpmn", "service_opening", "x", "A", "staff", "bt_tier"),  # same business: the tier decides
        ("vpmn", "complaint_fault", "x", "A", "staff", "bt_tier"),  # business+tier > kind+tier
        ("vpmn", "service_opening", "resource_check", "A", "staff", "node"),  # a node rule > any rule without node
        ("m2m", "service_opening", "resource_check", "A", "partner", "node_role"),
        ("vpmn", "complaint_fault", "resource_check", "A", "partner", "bt_kind_node"),  # node+business > node+role
    ],
)
def test_precedence_table(business_type: str, ticket_kind: str, node: str, tier: Tier,
                          role: str, winner: str) -> None:
    got = resolve(PRECEDENCE_SET, business_type, ticket_kind, node, tier, role)
    assert got.rule_id == winner
    assert got.policy_version == "t1"


def test_rule_order_in_the_file_does_not_matter() -> None:
    reordered = PRECEDENCE_SET.model_copy(update={"rules": PRECEDENCE_SET.rules[::-1]})
    tiers: list[Tier] = ["A", "C"]
    for bt, kind, node, tier, role in itertools.product(
        ["vpmn", "m2m"], ["complaint_fault", "service_opening"], ["resource_check", "x"], tiers,
        ["partner", "staff"],
    ):
        q = (bt, kind, node, tier, role)
        assert resolve(reordered, *q).rule_id == resolve(PRECEDENCE_SET, *q).rule_id


def test_no_matching_rule() -> None:
    ps = parse_policy_set({"version": "v", "rules": [rule("only", clock="calendar",
                                                          business_type="vpmn")]})
    with pytest.raises(NoMatchingPolicy, match="m2m"):
        resolve(ps, "m2m", "service_opening", "n", "A", "r")


def test_resolved_policy_is_a_self_contained_snapshot() -> None:
    got = resolve(PRECEDENCE_SET, "vpmn", "service_opening", "x", "A", "staff")
    assert got.calendar.name == "office" and got.clock is Clock.WORKING
    assert got.limit.total_seconds() == 3600
    # Round-trips through JSON (what a timer row stores).
    assert type(got).model_validate_json(got.model_dump_json()) == got


# --------------------------------------------------------------------------- validation

BASE: dict[str, Any] = {"version": "v", "calendars": [{"name": "office"}],
                        "default_calendar": "office"}


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ([rule("r1", calendar="nowhere")], r"rule 'r1': unknown calendar 'nowhere'"),
        ([rule("neg", limit=-5)], r"rule 'neg': limit_minutes must be > 0"),
        ([rule("zero", limit=0)], r"rule 'zero': limit_minutes must be > 0"),
        ([rule("w", warnings={"minutes_before": [60]})], r"rule 'w': warning 60 minutes .*beyond"),
        ([rule("p", warnings={"percent": [120]})], r"rule 'p': warning at 120"),
        ([rule("a", node="n"), rule("b", node="n")], r"rule 'b' has the same keys as rule 'a'"),
        ([rule("a"), rule("a", node="n")], r"duplicate rule id 'a'"),
        ([rule("e", escalation=[{"level": 2, "notify_role": "x", "after_minutes": 0}])],
         r"rule 'e': escalation levels"),
        ([rule("e", escalation=[{"level": 1, "notify_role": "s", "after_minutes": 60},
                                {"level": 2, "notify_role": "d", "after_minutes": 30}])],
         r"rule 'e': escalation level 2 fires before level 1"),
        ([rule("c", clock="calendar", calendar="office")], r"rule 'c': clock 'calendar'"),
        ([rule("t", customer_tier="D")], r"rule 't' \(#0\) field customer_tier"),
        ([rule("s", limit="soon")], r"rule 's' \(#0\) field limit_minutes"),
        ([rule("x", colour="red")], r"rule 'x' \(#0\) field colour"),
    ],
)
def test_invalid_rules_are_rejected_with_the_rule_named(rules: list[dict[str, Any]],
                                                        expected: str) -> None:
    with pytest.raises(PolicyError, match=expected):
        parse_policy_set({**BASE, "rules": rules})


def test_working_clock_needs_a_calendar() -> None:
    with pytest.raises(PolicyError, match="rule 'r': clock 'working' needs a calendar"):
        parse_policy_set({"version": "v", "rules": [rule("r")]})


def test_invalid_calendar_is_named() -> None:
    with pytest.raises(PolicyError, match=r"calendar 'bad'.*time zone"):
        parse_policy_set({"version": "v", "calendars": [{"name": "bad", "tz": "No/Where"}],
                          "rules": [rule("r", calendar="bad")]})
    with pytest.raises(PolicyError, match="duplicate calendar"):
        parse_policy_set({"version": "v", "calendars": [{"name": "c"}, {"name": "c"}],
                          "rules": [rule("r", calendar="c")]})


def test_loader_rejects_a_bad_file(tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("version: v\nrules:\n  - {id: r, limit_minutes: -1, clock: calendar}\n")
    with pytest.raises(PolicyError, match="rule 'r'"):
        load_policy_set(p)
    p.write_text("- just a list\n")
    with pytest.raises(PolicyError, match="mapping"):
        load_policy_set(p)


# --------------------------------------------------------------------------- default file

DEFAULT = load_policy_set(DEFAULT_POLICY_PATH)


def test_default_policy_loads() -> None:
    assert isinstance(DEFAULT, PolicySet)
    assert DEFAULT.version == "2026.12.1"


def test_default_dedicated_line_fault_runs_24x7() -> None:
    got = resolve(DEFAULT, "dedicated_line_data.complaint", "complaint_fault", "fault_repair", "A",
                  "field_engineer")
    assert got.rule_id == "dl_data.fault_repair.tier_a"
    assert got.clock is Clock.CALENDAR
    assert got.limit_minutes == 240
    assert [e.notify_role for e in got.escalation][:2] == ["supervisor", "department_head"]


def test_default_policy_matches_the_business_types_the_bridge_emits() -> None:
    got = resolve(DEFAULT, "dedicated_line_data.opening", "service_opening", "circuit_scheduling",
                  "B", "transmission")
    assert got.rule_id == "dl_data.opening.tier_b"  # the product's rule for its service-opening tickets
    got = resolve(DEFAULT, "vpmn.opening", "service_opening", "data_production", "A",
                  "data_production")
    assert got.rule_id == "opening.tier_a"  # no rule for VPMN or the node: the ticket kind's default
    got = resolve(DEFAULT, "dedicated_line_data.opening", "resource_confirmation", "resource_check",
                  "C", "network_resource")
    assert got.rule_id == "confirmation.tier_c"  # the e2e chain's first node
    got = resolve(DEFAULT, "dedicated_line_data.opening", "service_opening", "line_construction", "A",
                  "field_engineer")
    assert got.rule_id == "line_construction.tier_a"  # a node rule beats the business's rule
    got = resolve(DEFAULT, "group_sms.opening", "service_opening", "mas_gateway_configuration", "C",
                  "partner_si")
    assert got.rule_id == "opening.partner_si.tier_c"  # the role refines its ticket kind's default


# --------------------------------------------------------------------------- business types

BT_SET = parse_policy_set(
    {
        "version": "bt",
        "rules": [
            rule("any", clock="calendar"),
            rule("product", clock="calendar", business_type="m2m"),
            rule("full", clock="calendar", business_type="m2m.opening"),
            rule("product_tier", clock="calendar", business_type="m2m", customer_tier="A"),
            rule("full_kind", clock="calendar", business_type="m2m.change",
                 ticket_kind="service_opening"),
            rule("product_kind", clock="calendar", business_type="m2m",
                 ticket_kind="service_opening"),
        ],
    }
)


@pytest.mark.parametrize(
    ("business_type", "ticket_kind", "tier", "winner"),
    [
        ("m2m.opening", "complaint_fault", "B", "full"),  # full type > its product
        ("m2m.cancellation", "complaint_fault", "B", "product"),  # product matches any kind
        ("m2m", "complaint_fault", "B", "product"),  # a bare product still matches
        ("m2mx.opening", "complaint_fault", "B", "any"),  # prefix means product + "."
        ("m2m.opening", "complaint_fault", "A", "full"),  # full type > product + tier
        ("m2m.cancellation", "complaint_fault", "A", "product_tier"),  # same product: the tier decides
        ("m2m.change", "service_opening", "B", "full_kind"),
        ("m2m.opening", "service_opening", "B", "full"),  # full type > product + kind
        ("m2m.cancellation", "service_opening", "B", "product_kind"),
    ],
)
def test_business_type_matches_full_type_or_product(business_type: str, ticket_kind: str,
                                                    tier: Tier, winner: str) -> None:
    assert resolve(BT_SET, business_type, ticket_kind, "n", tier, "r").rule_id == winner


def test_fractional_minutes_give_second_scale_limits() -> None:
    ps = parse_policy_set({"version": "s", "rules": [rule(
        "fast", limit=0.05, clock="calendar", warnings={"minutes_before": [0.02]},
        escalation=[{"level": 1, "notify_role": "supervisor", "after_minutes": 0.01}])]})
    got = resolve(ps, "x.opening", "service_opening", "n", "A", "r")
    assert got.limit.total_seconds() == 3


def test_invalid_policy_lists_problems_with_fields() -> None:
    from sla.domain.policy import InvalidPolicySet

    with pytest.raises(InvalidPolicySet) as info:
        parse_policy_set({**BASE, "rules": [rule("ok"), rule("bad", limit="soon")]})
    assert info.value.problems[0][0] == "rules.1.limit_minutes"
    assert "rule 'bad'" in info.value.problems[0][1]


def test_packaged_demo_policy_loads() -> None:
    demo = load_policy_set(DEFAULT_POLICY_PATH.with_name("demo.yaml"))
    got = resolve(demo, "dedicated_line_data.opening", "resource_confirmation", "resource_check", "A",
                  "network_resource")
    assert got.clock is Clock.CALENDAR and got.limit.total_seconds() == 45
