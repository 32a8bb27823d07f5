"""SLA policies as versioned data, and pure rule resolution.

Precedence (most specific rule wins)
------------------------------------
A rule has five match keys, each a value or the wildcard ``"*"``:
``node``, ``ticket_kind``, ``business_type``, ``customer_tier`` (A/B/C), ``role``.
Among the rules matching a request, the winner has the greatest precedence tuple

    (number of specified keys, node?, ticket_kind?, business_type?, customer_tier?, role?)

where ``key?`` is 1 if the rule specifies that key. So more specified keys always win; on
equal counts a rule naming the node beats one naming the ticket kind, which beats one
naming the business type, then the tier, then the role. Two different rules can only
tie if they specify the same keys, and then they both match a request only if their
values are identical: such duplicates are rejected at load time, so resolution is
always unambiguous.

Business types are hierarchical: events carry ``<product>.<business_kind>`` (e.g.
``dedicated_line_data.opening``). A rule may name the full type or only the product
(``dedicated_line_data``), which matches every business kind of that product. In the
precedence tuple a full type scores ``business_type? = 2`` and a product ``1``, so on
otherwise equal keys the full type wins over its product (it still counts as one key).

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
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from backbone.shapes import FrozenClosedModel
from backbone.vocabulary import Tier
from sla.domain.calendar import ALWAYS_SPEC, BusinessCalendar, CalendarSpec, calendar_for
from sla.domain.errors import NoMatchingPolicy, PolicyError

WILDCARD = "*"
# Fixed tie-break order of the match keys (first = strongest).
KEY_ORDER: tuple[str, ...] = ("node", "ticket_kind", "business_type", "customer_tier", "role")

_BT = KEY_ORDER.index("business_type")


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

    def precedence(self) -> tuple[int, ...]:
        flags = [int(v != WILDCARD) for v in self.keys()]
        count = sum(flags)
        if "." in self.business_type:  # a full business type outranks its product
            flags[_BT] = 2
        return (count, *flags)

    def matches(self, query: tuple[str, ...]) -> bool:
        for i, (v, q) in enumerate(zip(self.keys(), query, strict=True)):
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
        for c in self.calendars:
            if c.name == name:
                return c
        raise KeyError(name)

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


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


def resolve(
    policy_set: PolicySet,
    business_type: str,
    ticket_kind: str,
    node: str,
    tier: Tier,
    role: str,
) -> ResolvedPolicy:
    """The most specific matching rule (see module doc), as a ``ResolvedPolicy``."""
    query = (node, ticket_kind, business_type, tier, role)
    best: Rule | None = None
    best_prec: tuple[int, ...] = ()
    for rule in policy_set.rules:
        if rule.matches(query):
            prec = rule.precedence()
            if best is None or prec > best_prec:
                best, best_prec = rule, prec
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
