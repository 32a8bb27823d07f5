"""Properties of the resolver (`sla.domain.policy.winner` / `resolve`) and of the lint that uses it.

Precedence is lexicographic specificity over (node, business_type, ticket_kind, customer_tier, role):
these properties hold for any policy set and any request, not just the tables of test_sla_policy.py.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sla.domain.catalog import CatalogNode, CatalogTicket, CatalogWorkflow, NodeCatalog
from sla.domain.lint import analyse, queries_of
from sla.domain.policy import KEY_ORDER, WILDCARD, PolicySet, Query, Rule, candidates, parse_policy_set, winner

NODES = ["n1", "n2", "n3"]
BUSINESS_TYPES = ["p1.opening", "p1.complaint", "p2.opening", "p3.change"]
KINDS = ["k1", "k2", "k3"]
TIERS = ["A", "B", "C"]
ROLES = ["r1", "r2", "r3"]
# What a rule may name: the request's values (or a product), plus values no request has.
RULE_VALUES: dict[str, list[str]] = {
    "node": [WILDCARD, "n1", "n2", "nx"],
    "business_type": [WILDCARD, "p1", "p2", "p1.opening", "p1.complaint", "p2.opening", "px"],
    "ticket_kind": [WILDCARD, "k1", "k2"],
    "customer_tier": [WILDCARD, "A", "B", "C"],
    "role": [WILDCARD, "r1", "r2"],
}

rule_keys = st.tuples(*(st.sampled_from(RULE_VALUES[k]) for k in KEY_ORDER))
queries = st.builds(Query, st.sampled_from(BUSINESS_TYPES), st.sampled_from(KINDS), st.sampled_from(NODES),
                    st.sampled_from(TIERS), st.sampled_from(ROLES))


def make_rule(i: int, keys: tuple[str, ...]) -> dict[str, Any]:
    return {"id": f"r{i}", "limit_minutes": i + 1, "clock": "calendar", **dict(zip(KEY_ORDER, keys, strict=True))}


def policy(keys: list[tuple[str, ...]]) -> PolicySet:
    return parse_policy_set({"version": "p", "rules": [make_rule(i, k) for i, k in enumerate(keys)]})


policies = st.lists(rule_keys, max_size=25, unique=True).map(policy)  # duplicates are refused at load


@given(policies, queries)
def test_the_winner_matches_and_is_strictly_more_specific_than_every_other_match(ps: PolicySet, q: Query) -> None:
    best = winner(ps, q)
    matching = [r for r in ps.rules if r.matches(q)]
    assert (best is None) == (not matching)
    if best is not None:
        assert best.matches(q)
        assert all(best.specificity() > r.specificity() for r in matching if r is not best)
        assert candidates(ps, q)[0] is best


@given(st.lists(rule_keys, max_size=25, unique=True), queries, st.randoms(use_true_random=False))
def test_the_order_of_rules_in_the_file_does_not_matter(keys: list[tuple[str, ...]], q: Query, rnd: Any) -> None:
    rules = [make_rule(i, k) for i, k in enumerate(keys)]
    shuffled = rules[:]
    rnd.shuffle(shuffled)
    a = winner(parse_policy_set({"version": "p", "rules": rules}), q)
    b = winner(parse_policy_set({"version": "p", "rules": shuffled}), q)
    assert (a.id if a else None) == (b.id if b else None)


@given(st.lists(rule_keys, max_size=25, unique=True), rule_keys, queries)
def test_adding_a_rule_never_makes_a_less_specific_one_win(keys: list[tuple[str, ...]], extra: tuple[str, ...],
                                                           q: Query) -> None:
    if extra in keys:
        return
    before = winner(policy(keys), q)
    after_set = policy([*keys, extra])
    added = after_set.rules[-1]
    after = winner(after_set, q)
    if not added.matches(q):
        assert (after.id if after else None) == (before.id if before else None)  # unrelated: nothing changes
        return
    assert after is not None
    assert after.id in {added.id, before.id if before else None}  # the old winner or the new rule
    if before is None or added.specificity() > before.specificity():
        assert after.id == added.id  # a more specific matching rule wins
    else:
        assert after.id == before.id
    if before is not None:
        assert after.specificity() >= before.specificity()  # the winner never gets less specific


@given(policies, queries)
def test_a_rule_naming_the_node_beats_every_rule_that_does_not(ps: PolicySet, q: Query) -> None:
    best = winner(ps, q)
    if any(r.matches(q) and r.node != WILDCARD for r in ps.rules):
        assert best is not None and best.node != WILDCARD


@given(policies, queries)
def test_among_rules_equal_on_the_node_the_business_decides_before_the_kind_tier_and_role(
        ps: PolicySet, q: Query) -> None:
    best = winner(ps, q)
    if best is None:
        return
    same_node = [r for r in ps.rules if r.matches(q) and (r.node == WILDCARD) == (best.node == WILDCARD)]
    assert best.specificity().business_type == max(r.specificity().business_type for r in same_node)


def _business_level_of(r: Rule) -> int:
    return 0 if r.business_type == WILDCARD else (2 if "." in r.business_type else 1)


def test_the_documented_specificity() -> None:
    ps = policy([(WILDCARD,) * 5, ("n1", "p1.opening", "k1", "A", "r1"), (WILDCARD, "p1", WILDCARD, "B", WILDCARD)])
    assert [tuple(r.specificity()) for r in ps.rules] == [(0, 0, 0, 0, 0), (1, 2, 1, 1, 1), (0, 1, 0, 1, 0)]
    assert all(r.specificity().business_type == _business_level_of(r) for r in ps.rules)


# --------------------------------------------------------------------------- the lint agrees with the resolver

catalog_nodes = st.lists(
    st.tuples(st.sampled_from(BUSINESS_TYPES), st.sampled_from(KINDS), st.sampled_from(NODES),
              st.sampled_from(ROLES)),
    min_size=1, max_size=12, unique_by=lambda t: t[:3],
)


def make_catalog(nodes: list[tuple[str, str, str, str]]) -> NodeCatalog:
    by_type: dict[str, dict[str, list[CatalogNode]]] = {}
    for bt, kind, node, role in nodes:
        by_type.setdefault(bt, {}).setdefault(kind, []).append(CatalogNode(name=node, role=role))
    return NodeCatalog(
        CatalogWorkflow(business_type=bt, workflow_id=bt, version=1,
                        tickets=tuple(CatalogTicket(kind=k, nodes=tuple(ns)) for k, ns in kinds.items()))
        for bt, kinds in by_type.items())


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(policies, catalog_nodes)
def test_a_dead_rule_is_exactly_one_the_resolver_never_picks_on_the_catalog(ps: PolicySet, nodes: Any) -> None:
    catalog = make_catalog(nodes)
    winners = {}
    for node in catalog:
        for q in queries_of(node):
            best = winner(ps, q)
            winners[q] = best.id if best else None
    report = analyse(ps, catalog)
    assert {d.rule_id for d in report.dead} == {r.id for r in ps.rules} - set(winners.values())
    for d in report.dead:  # whoever shadows a dead rule is a winner somewhere
        assert all(rid in winners.values() for rid, _ in d.shadowed_by)
    # Dropping the dead rules changes no answer on the catalog.
    live = ps.model_copy(update={"rules": tuple(r for r in ps.rules if r.id not in {d.rule_id for d in report.dead})})
    for q, rid in winners.items():
        best = winner(live, q)
        assert (best.id if best else None) == rid
