"""The organisation and the dispatch of node tasks to people (pure: no I/O, ``now`` is given).

The organisation is business data (``eoms_bridge/data/organisation.yaml``, versioned, validated at load by
``load_organisation``: a mistake names the exact field, e.g. ``people[3].department``):

* ``regions`` (the CRM's customer regions, e.g. ``天津-和平区``), ``departments`` (units), ``partners``
  (the partner SI companies: a partner user's token carries one of these ids in its ``partner`` claim);
* ``people``: id (the token's ``sub``), name, node roles, department, partner (a partner's engineer);
* ``dispatch``: per node role, whether a node of that role is dispatched automatically when it is entered,
  and how (``round_robin`` or ``least_loaded``); a role without a rule stays in its queue (claimed);
* ``rosters``: per node role and regions (``"*"``: any region without a roster of its own), shifts
  (``days`` like ``mon-fri``, ``hours`` like ``08:30-17:30`` or ``17:30-08:30``: a shift crossing
  midnight belongs to the day it starts) naming the people on duty, in ``timezone`` (Asia/Shanghai);
* ``partner_nodes``: which partner works a ``partner_si`` node (first rule matching the business type,
  node and region wins); recorded on the ticket's node when it is entered.

``on_duty`` resolves who is on duty for a role in a region at an instant; ``choose`` picks one of them
(round robin after the last one picked there, or the least loaded, ties broken in round-robin order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backbone.inputs import TimezoneName
from backbone.timeofday import WeeklyHours
from backbone.vocabulary import NodeRole

DEFAULT_ORGANISATION_FILE: Final = Path(__file__).resolve().parent.parent / "data" / "organisation.yaml"
ORGANISATION_VERSION: Final = 1
ANY_REGION: Final = "*"


class OrganisationError(ValueError):
    """The organisation data is invalid; ``errors`` lists ``(field path, message)``."""

    def __init__(self, source: str, errors: Sequence[tuple[str, str]]) -> None:
        self.source = source
        self.errors = list(errors)
        super().__init__(f"{source}: " + "; ".join(f"{path}: {msg}" for path, msg in self.errors))


class Strategy(StrEnum):
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Shift(WeeklyHours, _Model):
    people: tuple[str, ...] = Field(min_length=1)


class Region(_Model):
    id: str = Field(min_length=1, max_length=60)
    name: str | None = None


class Department(_Model):
    id: str = Field(min_length=1, max_length=60)
    name: str
    head: str | None = None


class Partner(_Model):
    id: str = Field(min_length=1, max_length=40)
    name: str


class Person(_Model):
    id: str = Field(min_length=1, max_length=60)
    name: str
    roles: tuple[NodeRole, ...] = Field(min_length=1)
    department: str
    partner: str | None = None
    active: bool = True


class DispatchRule(_Model):
    role: NodeRole
    strategy: Strategy = Strategy.ROUND_ROBIN
    auto: bool = True


class Roster(_Model):
    role: NodeRole
    regions: tuple[str, ...] = Field(min_length=1, description='region ids, or "*" for any region without its own')
    shifts: tuple[Shift, ...] = Field(min_length=1)


class PartnerNodes(_Model):
    partner: str
    business_types: tuple[str, ...] = ("*",)
    nodes: tuple[str, ...] = ("*",)
    regions: tuple[str, ...] = ("*",)

    def matches(self, business_type: str, node: str, region: str | None) -> bool:
        return (("*" in self.business_types or business_type in self.business_types)
                and ("*" in self.nodes or node in self.nodes)
                and ("*" in self.regions or (region is not None and region in self.regions)))


class Organisation(_Model):
    version: int
    timezone: TimezoneName = "Asia/Shanghai"
    regions: tuple[Region, ...] = ()
    departments: tuple[Department, ...] = ()
    partners: tuple[Partner, ...] = ()
    people: tuple[Person, ...] = ()
    dispatch: tuple[DispatchRule, ...] = ()
    rosters: tuple[Roster, ...] = ()
    partner_nodes: tuple[PartnerNodes, ...] = ()

    # ------------------------------------------------------------------ lookups
    def person(self, person_id: str) -> Person | None:
        return next((p for p in self.people if p.id == person_id), None)

    def department(self, unit: str) -> Department | None:
        return next((d for d in self.departments if d.id == unit), None)

    def rule(self, role: NodeRole | str) -> DispatchRule | None:
        return next((r for r in self.dispatch if r.role == role), None)

    def partner_of(self, business_type: str, node: str, region: str | None) -> str | None:
        """The partner working a ``partner_si`` node of this business type in this region (first rule)."""
        return next((r.partner for r in self.partner_nodes if r.matches(business_type, node, region)), None)

    def members(self, unit: str, role: NodeRole | str) -> list[str]:
        """The active people of a unit holding ``role``, by id."""
        return sorted(p.id for p in self.people if p.department == unit and p.active and role in p.roles)

    def on_duty(self, role: NodeRole | str, region: str | None, now: datetime) -> list[str]:
        """The active people holding ``role`` on shift at ``now`` in the rosters of ``region`` (those of
        ``"*"`` when the region has none for the role), sorted by id."""
        if now.tzinfo is None:
            raise ValueError("'now' must be timezone-aware")
        local = now.astimezone(ZoneInfo(self.timezone))
        rosters = [r for r in self.rosters if r.role == role]
        own = [r for r in rosters if region is not None and region in r.regions]
        chosen = own or [r for r in rosters if ANY_REGION in r.regions]
        ids = {pid for r in chosen for s in r.shifts if s.covers(local) for pid in s.people}
        return sorted(pid for pid in ids if (p := self.person(pid)) is not None and p.active and role in p.roles)

    # ---------------------------------------------------------------- validation
    def problems(self) -> list[tuple[str, str]]:
        """Cross-references that do not hold, each at its exact field."""
        out: list[tuple[str, str]] = []
        if self.version != ORGANISATION_VERSION:
            out.append(("version", f"this code reads version {ORGANISATION_VERSION}, not {self.version}"))
        lists: tuple[tuple[str, Sequence[str]], ...] = (
            ("regions", [r.id for r in self.regions]), ("departments", [d.id for d in self.departments]),
            ("partners", [p.id for p in self.partners]), ("people", [p.id for p in self.people]))
        for name, ids in lists:
            seen: set[str] = set()
            for i, item_id in enumerate(ids):
                if item_id in seen:
                    out.append((f"{name}[{i}].id", f"duplicate id {item_id!r}"))
                seen.add(item_id)
        regions = {r.id for r in self.regions}
        units = {d.id for d in self.departments}
        partners = {p.id for p in self.partners}
        people = {p.id: p for p in self.people}
        for i, d in enumerate(self.departments):
            if d.head is not None and d.head not in people:
                out.append((f"departments[{i}].head", f"unknown person {d.head!r}"))
        for i, p in enumerate(self.people):
            if p.department not in units:
                out.append((f"people[{i}].department", f"unknown department {p.department!r}"))
            if p.partner is not None and p.partner not in partners:
                out.append((f"people[{i}].partner", f"unknown partner {p.partner!r}"))
            if (p.partner is not None) != (NodeRole.PARTNER_SI in p.roles):
                out.append((f"people[{i}].partner", "a partner's engineer holds partner_si and names its partner"))
        seen_roles: set[str] = set()
        for i, rule in enumerate(self.dispatch):
            if rule.role in seen_roles:
                out.append((f"dispatch[{i}].role", f"a second rule for {rule.role.value!r}"))
            seen_roles.add(rule.role)
        for i, roster in enumerate(self.rosters):
            for j, region in enumerate(roster.regions):
                if region != ANY_REGION and region not in regions:
                    out.append((f"rosters[{i}].regions[{j}]", f"unknown region {region!r}"))
            for j, shift in enumerate(roster.shifts):
                for k, pid in enumerate(shift.people):
                    person = people.get(pid)
                    if person is None:
                        out.append((f"rosters[{i}].shifts[{j}].people[{k}]", f"unknown person {pid!r}"))
                    elif roster.role not in person.roles:
                        out.append((f"rosters[{i}].shifts[{j}].people[{k}]",
                                    f"{pid!r} does not hold the roster's role {roster.role.value!r}"))
        for i, pn in enumerate(self.partner_nodes):
            if pn.partner not in partners:
                out.append((f"partner_nodes[{i}].partner", f"unknown partner {pn.partner!r}"))
            for j, region in enumerate(pn.regions):
                if region != ANY_REGION and region not in regions:
                    out.append((f"partner_nodes[{i}].regions[{j}]", f"unknown region {region!r}"))
        return out


def _path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def parse_organisation(raw: Any, *, source: str = "organisation") -> Organisation:
    """Validate the organisation data; ``OrganisationError`` names every problem at its field."""
    try:
        org = Organisation.model_validate(raw)
    except ValidationError as exc:
        raise OrganisationError(source, [(_path(e["loc"]), e["msg"]) for e in exc.errors()]) from None
    if problems := org.problems():
        raise OrganisationError(source, problems)
    return org


def load_organisation(path: str | Path | None = None) -> Organisation:
    """Read and validate the organisation file (the shipped one by default)."""
    file = Path(path) if path else DEFAULT_ORGANISATION_FILE
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise OrganisationError(str(file), [("(file)", str(exc))]) from None
    return parse_organisation(raw, source=str(file))


# ---------------------------------------------------------------------------------------- choosing


def next_after(candidates: Sequence[str], last: str | None) -> str | None:
    """Round robin: the first candidate (in id order) after ``last``, wrapping around; the first one when
    ``last`` is unknown or none."""
    ordered = sorted(set(candidates))
    if not ordered:
        return None
    if last is None:
        return ordered[0]
    return next((c for c in ordered if c > last), ordered[0])


def choose(strategy: Strategy, candidates: Sequence[str], *, last: str | None = None,
           load: Mapping[str, int] | None = None) -> str | None:
    """One of ``candidates``: round robin after ``last``; or the least loaded (open tasks in ``load``),
    ties in round-robin order after ``last``. None without candidates."""
    ordered = sorted(set(candidates))
    if not ordered:
        return None
    if strategy is Strategy.ROUND_ROBIN:
        return next_after(ordered, last)
    counts = load or {}
    low = min(counts.get(c, 0) for c in ordered)
    return next_after([c for c in ordered if counts.get(c, 0) == low], last)
