"""A policy set checked against the workflow catalog: dead rules, coverage, tier order (pure).

Every node of the catalog is asked for every tier, with the node's role: `(business_type,
ticket_kind, node, tier, role)`, exactly what a `node_entered` event asks `resolve`. Then:

- a **dead rule** wins none of those queries: either it matches none (it names a node, business
  type, product, ticket kind or role the catalog does not have, or a combination no node has), or
  at every query it matches a more specific rule wins (it is *shadowed*, and the report names the
  rules that shadow it). `check` refuses a set with a dead rule (`PolicyLintError`, a 422 naming
  `rules.<i>` and the rule id); the bootstrap refuses to start with such a file;
- **coverage**: per node and tier the winning rule; the nodes no rule matches (no timer would
  start), the nodes that fall to a *catch-all* (a rule naming no node, business type nor ticket
  kind: it may name a tier or a role), and the nodes whose tiers are not in order (tier A's limit
  not shorter than C's, or B's outside [A, C]; compared in minutes of each rule's own clock).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from backbone.vocabulary import Tier
from sla.domain.catalog import NodeCatalog, NodeRef
from sla.domain.errors import PolicyError
from sla.domain.policy import WILDCARD, PolicySet, Query, Rule

TIERS: tuple[Tier, ...] = (Tier.A, Tier.B, Tier.C)


def queries_of(node: NodeRef) -> list[Query]:
    """What entering ``node`` asks the policy, for each tier."""
    return [Query(node.business_type, node.ticket_kind, node.node, t.value, node.role) for t in TIERS]


def is_catch_all(rule: Rule) -> bool:
    """A rule naming no node, business type nor ticket kind (it may name a tier or a role)."""
    return rule.node == rule.business_type == rule.ticket_kind == WILDCARD


@dataclass(frozen=True)
class DeadRule:
    index: int
    rule_id: str
    matched: int  # how many (node, tier) queries of the catalog it matches
    shadowed_by: tuple[tuple[str, int], ...]  # the winners at those queries, most frequent first
    message: str

    def error(self) -> dict[str, str]:
        """One `errors[]` entry of the 422 problem."""
        out = {"field": f"rules.{self.index}", "message": self.message, "rule_id": self.rule_id}
        if self.shadowed_by:
            out["shadowed_by"] = self.shadowed_by[0][0]
        return out


@dataclass(frozen=True)
class NodeOutcome:
    """The winner per tier at one node of the catalog (None: no rule, no timer)."""

    node: NodeRef
    winners: dict[str, Rule | None]

    def limits(self) -> dict[str, float | None]:
        return {t: (r.limit_minutes if r is not None else None) for t, r in self.winners.items()}

    def tier_problem(self) -> str | None:
        """Why the tiers are out of order here, or None (A < C, A ≤ B ≤ C)."""
        a, b, c = (self.limits()[t] for t in ("A", "B", "C"))
        if a is None or b is None or c is None:
            return None  # reported as unmatched
        if a == b == c:
            return f"the same limit for tiers A, B and C ({a:g} min)"
        if a >= c:
            return f"tier A's limit ({a:g} min) is not shorter than C's ({c:g} min)"
        if not a <= b <= c:
            return f"tier B's limit ({b:g} min) is not between A's ({a:g}) and C's ({c:g})"
        return None


@dataclass(frozen=True)
class LintReport:
    policy_version: str
    catalog_nodes: int
    dead: tuple[DeadRule, ...]
    outcomes: tuple[NodeOutcome, ...]
    wins: dict[str, int] = field(default_factory=dict)  # rule id → (node, tier) queries won

    @property
    def unmatched(self) -> list[tuple[NodeRef, list[str]]]:
        return [(o.node, [t for t, r in o.winners.items() if r is None]) for o in self.outcomes
                if None in o.winners.values()]

    @property
    def at_catch_all(self) -> list[tuple[NodeRef, list[str]]]:
        out = []
        for o in self.outcomes:
            tiers = [t for t, r in o.winners.items() if r is not None and is_catch_all(r)]
            if tiers:
                out.append((o.node, tiers))
        return out

    @property
    def tier_order(self) -> list[tuple[NodeRef, str]]:
        return [(o.node, p) for o in self.outcomes if (p := o.tier_problem()) is not None]

    def levels(self) -> Counter[str]:
        """How many (node, tier) queries each level of rule wins (`Specificity.label`)."""
        return Counter(r.specificity().label() for o in self.outcomes for r in o.winners.values() if r is not None)

    def summary(self) -> dict[str, Any]:
        return {
            "policy_version": self.policy_version, "catalog_nodes": self.catalog_nodes,
            "queries": self.catalog_nodes * len(TIERS), "rules": len(self.wins) + len(self.dead),
            "dead_rules": len(self.dead), "unmatched_nodes": len(self.unmatched),
            "nodes_at_catch_all": len(self.at_catch_all), "tier_order_violations": len(self.tier_order),
        }


def _why_unmatched(rule: Rule, catalog: NodeCatalog) -> str:
    """Why a rule matches no node of the catalog: the value it names that does not exist, or the
    combination no node has."""
    if rule.node != WILDCARD and rule.node not in catalog.node_names:
        return f"names node {rule.node!r}, which no workflow of the catalog has"
    bt = rule.business_type
    if bt != WILDCARD:
        if "." in bt and bt not in catalog.business_types:
            return f"names business type {bt!r}, which no workflow of the catalog has"
        if "." not in bt and bt not in catalog.products:
            return f"names product {bt!r}, which no workflow of the catalog has"
    if rule.ticket_kind != WILDCARD and rule.ticket_kind not in catalog.ticket_kinds:
        return f"names ticket kind {rule.ticket_kind!r}, which no workflow of the catalog has"
    if rule.role != WILDCARD and rule.role not in catalog.roles:
        return f"names role {rule.role!r}, which no node of the catalog has"
    named = ", ".join(f"{k}={v}" for k, v in rule.named().items() if k != "customer_tier")
    hint = ""
    if rule.node != WILDCARD and rule.role != WILDCARD:
        hint = f" (node {rule.node!r} is worked by {', '.join(sorted(catalog.roles_of_node(rule.node)))})"
    return f"matches no node of the catalog: no node has {named} together{hint}"


def _shadow_message(rule: Rule, index: int, matched: int, by: list[tuple[str, int]]) -> str:
    shown = ", ".join(f"{rid!r} ({n})" for rid, n in by[:3]) + (f" and {len(by) - 3} more" if len(by) > 3 else "")
    return (f"rule {rule.id!r} (#{index}) never wins: at each of the {matched} (node, tier) of the catalog it "
            f"matches, a more specific rule wins: {shown}")


def analyse(policy_set: PolicySet, catalog: NodeCatalog) -> LintReport:
    """Resolve every (node, tier) of the catalog; dead rules and coverage (see the module doc)."""
    wins: Counter[str] = Counter()
    matched: Counter[str] = Counter()
    shadows: dict[str, Counter[str]] = {r.id: Counter() for r in policy_set.rules}
    outcomes = []
    rules = policy_set.rules
    specs = {r.id: r.specificity() for r in rules}
    for node in catalog:
        winners: dict[str, Rule | None] = {}
        for q in queries_of(node):
            matching = [r for r in rules if r.matches(q)]
            best = max(matching, key=lambda r: specs[r.id]) if matching else None
            winners[q.tier] = best
            if best is None:
                continue
            wins[best.id] += 1
            for r in matching:
                matched[r.id] += 1
                if r is not best:
                    shadows[r.id][best.id] += 1
        outcomes.append(NodeOutcome(node, winners))
    dead = []
    for i, r in enumerate(rules):
        if wins[r.id]:
            continue
        if matched[r.id] == 0:
            message = f"rule {r.id!r} (#{i}) can never win: it {_why_unmatched(r, catalog)}"
            dead.append(DeadRule(i, r.id, 0, (), message))
        else:
            by = shadows[r.id].most_common()
            dead.append(DeadRule(i, r.id, matched[r.id], tuple(by), _shadow_message(r, i, matched[r.id], by)))
    return LintReport(policy_set.version, len(catalog), tuple(dead), tuple(outcomes),
                      {r.id: wins[r.id] for r in rules if wins[r.id]})


class PolicyLintError(PolicyError):
    """A policy set with rules that can never win for any node of the catalog (HTTP 422): one
    `errors[]` entry per dead rule, `field` `rules.<i>`, with `rule_id` and `shadowed_by`."""

    code = "policy_dead_rules"

    def __init__(self, dead: Iterable[DeadRule]) -> None:
        self.dead = tuple(dead)
        n = len(self.dead)
        super().__init__(
            f"{n} rule(s) can never win for any node of the workflow catalog: "
            + "; ".join(d.message for d in self.dead),
            field=None, errors=[d.error() for d in self.dead],
        )


def check(policy_set: PolicySet, catalog: NodeCatalog) -> LintReport:
    """The report, or `PolicyLintError` when a rule can never win."""
    report = analyse(policy_set, catalog)
    if report.dead:
        raise PolicyLintError(report.dead)
    return report


__all__ = ["TIERS", "DeadRule", "LintReport", "NodeOutcome", "PolicyLintError", "analyse", "check", "is_catch_all",
           "queries_of"]
