"""SLA policies as versioned data, and pure rule resolution.

Precedence (the most specific rule wins, key by key)
----------------------------------------------------
A rule has five match keys, each a value or the wildcard ``"*"``: ``node``,
``business_type``, ``ticket_kind``, ``customer_tier`` (A/B/C), ``role``. Among the rules
matching a request, the winner has the greatest *specificity*, compared key by key in this
order (lexicographically, like words in a dictionary):

    (node?, business_type?, ticket_kind?, customer_tier?, role?)

where ``key?`` is 1 if the rule names that key and 0 for the wildcard, except
``business_type?``: 2 for a full type (``dedicated_line_data.complaint``), 1 for a product
only (``dedicated_line_data``), 0 for any. This is how the business writes an SLA table:
business × node × tier, then role. A rule naming the node beats every rule that does not,
whatever else they name; among rules equal on the node, the business decides, then the
ticket kind, then the tier, then the role. So a node-level rule for a business beats a
ticket-kind-wide default, and a role rule refines the rule of its own level (it beats
``{ticket_kind: k}`` but not ``{ticket_kind: k, customer_tier: A}``).

Two rules of equal specificity name the same keys; both match one request only if their
values are the same, and such duplicates are refused at load, so the winner is unique and
the order of the rules in the file does not matter.

Business types are hierarchical: events carry ``<product>.<business_kind>`` (e.g.
``dedicated_line_data.opening``). A rule may name the full type or only the product
(``dedicated_line_data``), which matches every business kind of that product.

Limits, warning ``minutes_before`` and escalation ``after_minutes`` are minutes and may be
fractional (``0.05`` = 3 s): the test and demo policies use second-scale limits.

Policy changes apply to new timers only: ``resolve`` returns a self-contained
``ResolvedPolicy`` snapshot (including the calendar definition) that a timer keeps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, NamedTuple

import yaml
from pydantic import Field, ValidationError, model_validator

from backbone.shapes import FrozenClosedModel, find
from backbone.vocabulary import Tier
from sla.domain.calendar import ALWAYS_SPEC, BusinessCalendar, CalendarSpec, calendar_for
from sla.domain.errors import NoMatchingPolicy, PolicyError

WILDCARD = "*"
# The match keys in precedence order (first = strongest): specificity compares them in this order.
KEY_ORDER: tuple[str, ...] = ("node", "business_type", "ticket_kind", "customer_tier", "role")

_BT = KEY_ORDER.index("business_type")


class Specificity(NamedTuple):
    """How specific a rule is, compared lexicographically (greater wins; see the module doc)."""

    node: int  # 1: names the node
    business_type: int  # 2: a full business type, 1: a product, 0: any
    ticket_kind: int
    customer_tier: int
    role: int

    def first_difference(self, other: Specificity) -> str | None:
        """The first key (in precedence order) on which the two differ: what decides between them."""
        for key, mine, theirs in zip(self._fields, self, other, strict=True):
            if mine != theirs:
                return key
        return None

    def label(self) -> str:
        """``node+business_type(full)+customer_tier``, or ``catch-all``."""
        parts = [k + ("(full)" if k == "business_type" and v == 2 else "(product)" if k == "business_type" else "")
                 for k, v in zip(self._fields, self, strict=True) if v]
        return "+".join(parts) or "catch-all"


class Query(NamedTuple):
    """What a timer asks the policy: the node being entered, in the ticket's context."""

    business_type: str
    ticket_kind: str
    node: str
    tier: str
    role: str

    def keys(self) -> tuple[str, ...]:
        """The values in ``KEY_ORDER`` (what ``Rule.matches`` compares)."""
        return (self.node, self.business_type, self.ticket_kind, self.tier, self.role)


class Clock(StrEnum):
    WORKING = "working"  # counts working time of a business calendar
    CALENDAR = "calendar"  # counts wall-clock time (24x7)


class EscalationLevel(FrozenClosedModel):
    level: int
    notify_role: str = Field(min_length=1)
    after_minutes: float  # past the breach, on the same clock as the limit


class WarningPoints(FrozenClosedModel):
    percent: tuple[float, ...] = ()  # of the limit, e.g. (50, 80)
    minutes_before: tuple[float, ...] = ()  # absolute minutes before the deadline


class Rule(FrozenClosedModel):
    id: str = Field(min_length=1)
    business_type: str = WILDCARD
    ticket_kind: str = WILDCARD
    node: str = WILDCARD
    customer_tier: Literal["A", "B", "C", "*"] = "*"
    role: str = WILDCARD
    limit_minutes: float
    clock: Clock = Clock.WORKING
    calendar: str | None = None  # None → the policy set's default_calendar
    warnings: WarningPoints = WarningPoints()
    escalation: tuple[EscalationLevel, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Rule:
        who = f"rule {self.id!r}"
        if self.limit_minutes <= 0:
            raise ValueError(f"{who}: limit_minutes must be > 0, got {self.limit_minutes:g}")
        for p in self.warnings.percent:
            if not 0 < p < 100:
                raise ValueError(f"{who}: warning at {p}% is not strictly within (0, 100)")
        for m in self.warnings.minutes_before:
            if not 0 < m < self.limit_minutes:
                raise ValueError(
                    f"{who}: warning {m:g} minutes before the deadline is beyond the "
                    f"limit of {self.limit_minutes:g} minutes"
                )
        for i, esc in enumerate(self.escalation, start=1):
            if esc.level != i:
                raise ValueError(f"{who}: escalation levels must be 1, 2, … in order")
            if esc.after_minutes < 0:
                raise ValueError(f"{who}: escalation level {i} has negative after_minutes")
            if i > 1 and esc.after_minutes < self.escalation[i - 2].after_minutes:
                raise ValueError(f"{who}: escalation level {i} fires before level {i - 1}")
        if self.clock is Clock.CALENDAR and self.calendar is not None:
            raise ValueError(f"{who}: clock 'calendar' takes no calendar name")
        for key in KEY_ORDER:
            if not getattr(self, key):
                raise ValueError(f"{who}: empty {key}; use '*' for a wildcard")
        return self

    def keys(self) -> tuple[str, ...]:
        return tuple(str(getattr(self, k)) for k in KEY_ORDER)

    def specificity(self) -> Specificity:
        flags = [int(v != WILDCARD) for v in self.keys()]
        if "." in self.business_type:  # a full business type outranks its product
            flags[_BT] = 2
        return Specificity(*flags)

    def named(self) -> dict[str, str]:
        """The keys this rule names (not the wildcards), in precedence order."""
        return {k: v for k, v in zip(KEY_ORDER, self.keys(), strict=True) if v != WILDCARD}

    def matches(self, query: Query | tuple[str, ...]) -> bool:
        """Whether the rule applies to ``query`` (a ``Query``, or its values in ``KEY_ORDER``)."""
        values = query.keys() if isinstance(query, Query) else query
        for i, (v, q) in enumerate(zip(self.keys(), values, strict=True)):
            if v in (WILDCARD, q):
                continue
            if i == _BT and q.startswith(v + "."):  # product rule, full business type asked
                continue
            return False
        return True


class PolicySet(FrozenClosedModel):
    version: str = Field(min_length=1)
    default_calendar: str | None = None
    calendars: tuple[CalendarSpec, ...] = ()
    rules: tuple[Rule, ...]

    @model_validator(mode="after")
    def _check(self) -> PolicySet:
        names = [c.name for c in self.calendars]
        if dup := {n for n in names if names.count(n) > 1}:
            raise ValueError(f"duplicate calendar name(s): {sorted(dup)}")
        if self.default_calendar is not None and self.default_calendar not in names:
            raise ValueError(f"default_calendar {self.default_calendar!r} is not defined")
        seen_ids: set[str] = set()
        seen_keys: dict[tuple[str, ...], str] = {}
        for r in self.rules:
            if r.id in seen_ids:
                raise ValueError(f"duplicate rule id {r.id!r}")
            seen_ids.add(r.id)
            if r.clock is Clock.WORKING:
                cal = r.calendar or self.default_calendar
                if cal is None:
                    raise ValueError(
                        f"rule {r.id!r}: clock 'working' needs a calendar (none given and no "
                        "default_calendar)"
                    )
                if cal not in names:
                    raise ValueError(f"rule {r.id!r}: unknown calendar {cal!r}")
            if (other := seen_keys.get(r.keys())) is not None:
                raise ValueError(
                    f"rule {r.id!r} has the same keys as rule {other!r} "
                    f"({dict(zip(KEY_ORDER, r.keys(), strict=True))}): ambiguous precedence"
                )
            seen_keys[r.keys()] = r.id
        return self

    def calendar_spec(self, name: str) -> CalendarSpec:
        return find(self.calendars, lambda c: c.name == name, KeyError(name))

    def rule(self, rule_id: str) -> Rule:
        return find(self.rules, lambda r: r.id == rule_id, KeyError(rule_id))


class ResolvedPolicy(FrozenClosedModel):
    """Self-contained snapshot of the winning rule; a running timer keeps it."""

    policy_version: str
    rule_id: str
    limit_minutes: float
    clock: Clock
    calendar: CalendarSpec
    warnings: WarningPoints
    escalation: tuple[EscalationLevel, ...]

    @property
    def limit(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.limit_minutes)

    def business_calendar(self) -> BusinessCalendar:
        return calendar_for(self.calendar)


def candidates(policy_set: PolicySet, query: Query) -> list[Rule]:
    """The rules matching ``query``, most specific first (the first one wins)."""
    return sorted((r for r in policy_set.rules if r.matches(query)), key=Rule.specificity, reverse=True)


def winner(policy_set: PolicySet, query: Query) -> Rule | None:
    """The most specific rule matching ``query`` (see the module doc), or None."""
    best: Rule | None = None
    best_spec: Specificity | None = None
    for rule in policy_set.rules:
        if rule.matches(query):
            spec = rule.specificity()
            if best_spec is None or spec > best_spec:
                best, best_spec = rule, spec
    return best


def resolve(
    policy_set: PolicySet,
    business_type: str,
    ticket_kind: str,
    node: str,
    tier: Tier,
    role: str,
) -> ResolvedPolicy:
    """The most specific matching rule (see module doc), as a ``ResolvedPolicy``."""
    best = winner(policy_set, Query(business_type, ticket_kind, node, tier, role))
    if best is None:
        raise NoMatchingPolicy(
            f"policy {policy_set.version}: no rule for business_type={business_type!r} "
            f"ticket_kind={ticket_kind!r} node={node!r} tier={tier!r} role={role!r}"
        )
    return snapshot(policy_set, best.id)


def snapshot(policy_set: PolicySet, rule_id: str) -> ResolvedPolicy:
    """The ``ResolvedPolicy`` of one rule (versions are immutable, so this is what a timer
    started under ``(policy_set.version, rule_id)`` keeps)."""
    rule = policy_set.rule(rule_id)
    if rule.clock is Clock.CALENDAR:
        spec = ALWAYS_SPEC
    else:
        name = rule.calendar or policy_set.default_calendar
        assert name is not None  # guaranteed by PolicySet validation
        spec = policy_set.calendar_spec(name)
    return ResolvedPolicy(
        policy_version=policy_set.version,
        rule_id=rule.id,
        limit_minutes=rule.limit_minutes,
        clock=rule.clock,
        calendar=spec,
        warnings=rule.warnings,
        escalation=rule.escalation,
    )


# --------------------------------------------------------------------------- loading


def _rule_label(data: Mapping[str, Any], loc: tuple[int | str, ...]) -> str:
    """Name the rule/calendar a pydantic error location points into."""
    if len(loc) >= 2 and loc[0] in ("rules", "calendars") and isinstance(loc[1], int):
        items = data.get(str(loc[0])) or []
        item = items[loc[1]] if loc[1] < len(items) else None
        name = item.get("id" if loc[0] == "rules" else "name") if isinstance(item, dict) else None
        what = "rule" if loc[0] == "rules" else "calendar"
        rest = ".".join(str(p) for p in loc[2:])
        return f"{what} {name!r} (#{loc[1]})" + (f" field {rest}" if rest else "")
    return ".".join(str(p) for p in loc) or "policy set"


class InvalidPolicySet(PolicyError):
    """A policy set that fails validation; ``problems`` lists ``(field, message)`` pairs,
    the field as a dotted path into the data (``rules.3.limit_minutes``)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("invalid policy set: " + "; ".join(m for _, m in problems),
                         errors=[{"field": f, "message": m} for f, m in problems])


def parse_policy_set(data: Mapping[str, Any]) -> PolicySet:
    """Validate raw policy data; raises ``InvalidPolicySet`` with one line per problem."""
    try:
        return PolicySet.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = str(err["msg"]).removeprefix("Value error, ")
            loc = tuple(err["loc"])
            # Errors from our own validators already name the rule; others get a label.
            label = _rule_label(data, loc)
            text = msg if msg.startswith(("rule ", "calendar ")) else f"{label}: {msg}"
            field = ".".join(str(p) for p in loc) or ("rules" if msg.startswith(("rule ", "duplicate rule")) else
                                                      "policy set")
            problems.append((field, text))
        raise InvalidPolicySet(problems) from exc


def load_policy_set(path: str | Path) -> PolicySet:
    """Load and validate a YAML policy file (the only I/O in this package)."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: a policy file must be a mapping")
    return parse_policy_set(data)


DEFAULT_POLICY_PATH = Path(__file__).resolve().parent.parent / "policies" / "default.yaml"
