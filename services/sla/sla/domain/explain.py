"""Why a rule wins, and the whole policy as an operator's SLA table (pure).

- `explain(policy_set, query)`: the winning rule for one (business type, ticket kind, node, tier,
  role), every other matching rule it beat with its specificity and the key that decided, and the
  rules that came close but do not apply (they name another value).
- `matrix(policy_set, catalog)`: for every node of the catalog and every tier, the limit, clock,
  calendar, warnings and escalation chain that a timer started there gets (the JSON and CSV export).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sla.domain.catalog import NodeCatalog, NodeRef
from sla.domain.lint import TIERS, is_catch_all
from sla.domain.policy import WILDCARD, Clock, PolicySet, Query, Rule, candidates, winner

_WHY = {
    "node": "names the node",
    "business_type": "names the business",
    "ticket_kind": "names the ticket kind",
    "customer_tier": "names the tier",
    "role": "names the role",
}


def specificity_of(rule: Rule) -> dict[str, int]:
    return dict(rule.specificity()._asdict())


def beaten_because(winner: Rule, loser: Rule) -> str:
    """The first key, in precedence order, on which the winner is more specific than the loser."""
    key = winner.specificity().first_difference(loser.specificity())
    if key is None:  # equal specificity cannot both match (refused at load)
        return "equal specificity"
    if key == "business_type" and loser.business_type != WILDCARD:
        return f"the winner names the full business type {winner.business_type!r}; this rule only the product"
    return f"the winner {_WHY[key]} ({getattr(winner, key)!r}); this rule does not"


def _mismatch(rule: Rule, query: Query) -> str | None:
    """The first key on which a rule does not match the query (None if it matches)."""
    for key, want, got in zip(("node", "business_type", "ticket_kind", "customer_tier", "role"), rule.keys(),
                              query.keys(), strict=True):
        if want in (WILDCARD, got) or (key == "business_type" and got.startswith(want + ".")):
            continue
        return f"{key} is {want!r}, not {got!r}"
    return None


@dataclass(frozen=True)
class Explanation:
    query: Query
    winner: Rule | None
    beaten: list[tuple[Rule, str]]  # every other matching rule, most specific first, and why it lost
    near_misses: list[tuple[Rule, str]]  # rules naming the same node or business that do not apply, and why

    def as_dict(self) -> dict[str, Any]:
        def rule_view(r: Rule) -> dict[str, Any]:
            return {"rule_id": r.id, "keys": r.named(), "specificity": specificity_of(r),
                    "level": r.specificity().label(), "limit_minutes": r.limit_minutes, "clock": r.clock.value}

        return {
            "query": self.query._asdict(),
            "winner": rule_view(self.winner) if self.winner else None,
            "beaten": [{**rule_view(r), "why": why} for r, why in self.beaten],
            "not_matching": [{**rule_view(r), "why": why} for r, why in self.near_misses],
        }


def explain(policy_set: PolicySet, query: Query) -> Explanation:
    matching = candidates(policy_set, query)
    best = matching[0] if matching else None
    beaten = [(r, beaten_because(best, r)) for r in matching[1:]] if best else []
    near = []
    for r in policy_set.rules:
        if r in matching:
            continue
        about_it = r.node == query.node or (r.business_type != WILDCARD and (
            query.business_type == r.business_type or query.business_type.startswith(r.business_type + ".")))
        why = _mismatch(r, query)
        if about_it and why is not None:
            near.append((r, why))
    near.sort(key=lambda rw: rw[0].specificity(), reverse=True)
    return Explanation(query, best, beaten, near)


# --------------------------------------------------------------------------- the matrix


def warnings_text(rule: Rule) -> str:
    parts = [f"{p:g}%" for p in rule.warnings.percent] + [f"{m:g} min before" for m in rule.warnings.minutes_before]
    return "; ".join(parts)


def escalation_text(rule: Rule) -> str:
    return " → ".join(f"L{e.level} {e.notify_role} +{e.after_minutes:g} min" for e in rule.escalation)


def calendar_of(policy_set: PolicySet, rule: Rule) -> str:
    return "24x7" if rule.clock is Clock.CALENDAR else (rule.calendar or policy_set.default_calendar or "")


@dataclass(frozen=True)
class MatrixRow:
    node: NodeRef
    business_title: str | None
    node_title: str | None
    tiers: dict[str, Rule | None]


def matrix(policy_set: PolicySet, catalog: NodeCatalog) -> list[MatrixRow]:
    """One row per node of the catalog (catalog order), the winning rule per tier."""
    rows = []
    for node in catalog:
        tiers = {t.value: winner(policy_set, Query(node.business_type, node.ticket_kind, node.node, t.value,
                                                   node.role)) for t in TIERS}
        rows.append(MatrixRow(node, catalog.business_title(node.business_type), catalog.node_title(node), tiers))
    return rows


def tier_cell(policy_set: PolicySet, rule: Rule | None) -> dict[str, Any] | None:
    if rule is None:
        return None
    return {
        "rule_id": rule.id, "limit_minutes": rule.limit_minutes, "clock": rule.clock.value,
        "calendar": calendar_of(policy_set, rule), "catch_all": is_catch_all(rule),
        "warnings": {"percent": list(rule.warnings.percent), "minutes_before": list(rule.warnings.minutes_before)},
        "escalation": [{"level": e.level, "notify_role": e.notify_role, "after_minutes": e.after_minutes}
                       for e in rule.escalation],
    }


def matrix_json(policy_set: PolicySet, catalog: NodeCatalog) -> list[dict[str, Any]]:
    return [{
        "business_type": r.node.business_type, "business_title": r.business_title,
        "ticket_kind": r.node.ticket_kind, "node": r.node.node, "node_title": r.node_title, "role": r.node.role,
        "tiers": {t: tier_cell(policy_set, rule) for t, rule in r.tiers.items()},
    } for r in matrix(policy_set, catalog)]


CSV_COLUMNS = ("business_type", "business_title", "ticket_kind", "node", "node_title", "role", "tier",
               "limit_minutes", "limit_hours", "clock", "calendar", "warnings", "escalation", "rule_id")


def matrix_csv_rows(policy_set: PolicySet, catalog: NodeCatalog) -> list[dict[str, Any]]:
    """One line per (node, tier): the operator's SLA table, tier by tier."""
    out = []
    for r in matrix(policy_set, catalog):
        for t, rule in r.tiers.items():
            base = {"business_type": r.node.business_type, "business_title": r.business_title or "",
                    "ticket_kind": r.node.ticket_kind, "node": r.node.node, "node_title": r.node_title or "",
                    "role": r.node.role, "tier": t}
            if rule is None:
                out.append({**base, "limit_minutes": "", "limit_hours": "", "clock": "", "calendar": "",
                            "warnings": "", "escalation": "", "rule_id": "(no rule: no timer)"})
                continue
            out.append({**base, "limit_minutes": f"{rule.limit_minutes:g}",
                        "limit_hours": f"{round(rule.limit_minutes / 60, 2):g}", "clock": rule.clock.value,
                        "calendar": calendar_of(policy_set, rule),
                        "warnings": warnings_text(rule), "escalation": escalation_text(rule), "rule_id": rule.id})
    return out


__all__ = ["CSV_COLUMNS", "Explanation", "MatrixRow", "beaten_because", "escalation_text", "explain", "matrix",
           "matrix_csv_rows", "matrix_json", "warnings_text"]
