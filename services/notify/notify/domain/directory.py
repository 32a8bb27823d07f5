"""The notify directory and recipient resolution (pure).

Who receives an alert is a pure function of (event type, alert data, directory, time):

* ``sla.warning``   → the assignee (or, when unassigned, whoever is on duty for the node's role)
                      + the customer's account manager
* ``sla.breached``  → the same + the supervisor of the handler's department
                      (of the account manager's department when no handler is known)
* ``sla.escalated`` → the escalation contacts of ``data.level`` (the highest configured level
                      when the level is beyond the table)
* ``sla.met``       → nobody
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import AliasChoices, ConfigDict, Field, model_validator

from backbone.inputs import TimezoneName
from backbone.shapes import FrozenModel
from backbone.timeofday import DailyHours, WeeklyHours
from backbone.vocabulary import Tier

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULT_DIRECTORY_FILE = DATA_DIR / "directory.yaml"

Language = Literal["zh-CN", "en"]


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


#: quiet hours and roster hours (``22:00-08:00``: crossing midnight, end exclusive)
TimeRange = DailyHours


class Person(FrozenModel):
    id: str
    name: str
    roles: tuple[str, ...]
    department: str
    phone: str | None = None
    email: str | None = None
    language: Language = "zh-CN"
    timezone: TimezoneName = "Asia/Shanghai"  # an IANA name; an unknown one is a 422, not a KeyError
    quiet_hours: TimeRange | None = None
    active: bool = True

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, now: datetime) -> datetime:
        return now.astimezone(self.tz)

    def in_quiet_hours(self, now: datetime) -> bool:
        return self.quiet_hours is not None and self.quiet_hours.contains(self.local(now).time())

    @property
    def channels(self) -> tuple[Channel, ...]:
        out: list[Channel] = []
        if self.phone:
            out.append(Channel.SMS)
        if self.email:
            out.append(Channel.EMAIL)
        return tuple(out)


class Department(FrozenModel):
    id: str
    name: str
    supervisor: str | None = None
    head: str | None = None


class Shift(WeeklyHours):
    """``days`` like ``mon-fri`` / ``sat,sun`` / ``daily``; a shift crossing midnight belongs to
    the day it starts (a ``mon 18:00-08:30`` shift covers Tuesday 07:00)."""

    person: str


class Roster(FrozenModel):
    role: str
    timezone: TimezoneName = "Asia/Shanghai"
    shifts: tuple[Shift, ...] = ()
    fallback: str | None = Field(default=None, description="person when no shift covers the time")

    def on_duty(self, now: datetime) -> list[str]:
        local = now.astimezone(ZoneInfo(self.timezone))
        ids = [s.person for s in self.shifts if s.covers(local)]
        if not ids and self.fallback:
            ids = [self.fallback]
        return list(dict.fromkeys(ids))


EscalationTargetKind = Literal[
    "am_department_supervisor",
    "am_department_head",
    "handler_department_supervisor",
    "handler_department_head",
    "account_manager",
    "person",
]


class EscalationTarget(FrozenModel):
    kind: EscalationTargetKind
    person: str | None = None

    @model_validator(mode="after")
    def _person_needed(self) -> EscalationTarget:
        if (self.kind == "person") != (self.person is not None):
            raise ValueError("an escalation target names a person exactly when kind is 'person'")
        return self


class EscalationLevel(FrozenModel):
    level: int = Field(ge=1)
    targets: tuple[EscalationTarget, ...]


class AlertData(FrozenModel):
    """The part of an ``sla.*`` event payload that notify needs; extra fields are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    ticket_id: str
    node: str
    business_type: str
    ticket_kind: str
    customer_id: str
    customer_name: str
    tier: Tier = Field(validation_alias=AliasChoices("tier", "customer_tier"))
    role: str
    assignee: str | None = None
    account_manager_id: str | None = None
    deadline: datetime
    lateness_seconds: float = 0.0
    remaining_seconds: float | None = None
    level: int | None = None


class WhyKind(StrEnum):
    """Why a person receives an alert (the message says it in the person's language)."""

    ASSIGNEE = "assignee"  # works the node
    ON_DUTY = "on_duty"  # on duty for the node's role (no known assignee)
    ACCOUNT_MANAGER = "account_manager"  # of the customer
    SUPERVISOR = "supervisor"  # of the handler's (or the account manager's) department
    ESCALATION = "escalation"  # named in the escalation table
    ESCALATION_ACCOUNT_MANAGER = "escalation_account_manager"
    ESCALATION_SUPERVISOR = "escalation_supervisor"
    ESCALATION_HEAD = "escalation_head"


class Why(FrozenModel):
    """One reason a recipient gets an alert, as data: ``audit`` is the English line kept on the delivery
    record; the templates say it in the recipient's language (``notify/templates/texts.yaml``)."""

    kind: WhyKind
    department: str | None = None  # a department id (supervisor, escalation_supervisor, escalation_head)
    level: int | None = None  # the escalation level
    unknown_assignee: str | None = None  # on_duty: the event named an assignee the directory lacks

    def audit(self, alert: AlertData) -> str:
        level = f"escalation level {self.level}"
        match self.kind:
            case WhyKind.ASSIGNEE:
                return f"assignee of {alert.node}"
            case WhyKind.ON_DUTY:
                prefix = f"assignee {self.unknown_assignee} unknown; " if self.unknown_assignee else ""
                return f"{prefix}on duty for {alert.role}"
            case WhyKind.ACCOUNT_MANAGER:
                return f"account manager of {alert.customer_id}"
            case WhyKind.SUPERVISOR:
                return f"supervisor of {self.department}"
            case WhyKind.ESCALATION:
                return level
            case WhyKind.ESCALATION_ACCOUNT_MANAGER:
                return f"{level}: account manager"
            case WhyKind.ESCALATION_SUPERVISOR:
                return f"{level}: supervisor of {self.department}"
            case WhyKind.ESCALATION_HEAD:
                return f"{level}: head of {self.department}"


class Recipient(FrozenModel):
    person: Person
    channels: tuple[Channel, ...]
    reason: str = Field(description="why, in English, for the delivery record")
    whys: tuple[Why, ...] = ()


class Directory(FrozenModel):
    people: tuple[Person, ...]
    departments: tuple[Department, ...]
    rosters: tuple[Roster, ...] = ()
    account_managers: dict[str, str] = Field(default_factory=dict, description="customer → person")
    escalation: tuple[EscalationLevel, ...] = ()

    @cached_property
    def _people(self) -> dict[str, Person]:
        return {p.id: p for p in self.people}

    @cached_property
    def _departments(self) -> dict[str, Department]:
        return {d.id: d for d in self.departments}

    @model_validator(mode="after")
    def _references_resolve(self) -> Directory:
        people = {p.id for p in self.people}
        if len(people) != len(self.people):
            raise ValueError("duplicate person id")
        depts = {d.id for d in self.departments}
        problems: list[str] = []
        for p in self.people:
            if p.department not in depts:
                problems.append(f"person {p.id}: unknown department {p.department}")
        for d in self.departments:
            for x in (d.supervisor, d.head):
                if x and x not in people:
                    problems.append(f"department {d.id}: unknown person {x}")
        for r in self.rosters:
            for s in r.shifts:
                if s.person not in people:
                    problems.append(f"roster {r.role}: unknown person {s.person}")
            if r.fallback and r.fallback not in people:
                problems.append(f"roster {r.role}: unknown fallback {r.fallback}")
        for c, pid in self.account_managers.items():
            if pid not in people:
                problems.append(f"customer {c}: unknown account manager {pid}")
        for lvl in self.escalation:
            for t in lvl.targets:
                if t.person and t.person not in people:
                    problems.append(f"escalation level {lvl.level}: unknown person {t.person}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # ------------------------------------------------------------ look-ups

    def person(self, person_id: str | None) -> Person | None:
        return self._people.get(person_id) if person_id else None

    def department(self, department_id: str) -> Department | None:
        return self._departments.get(department_id)

    def with_role(self, role: str) -> list[Person]:
        return [p for p in self.people if role in p.roles and p.active]

    def on_duty(self, role: str, now: datetime) -> list[Person]:
        for roster in self.rosters:
            if roster.role == role:
                return [p for pid in roster.on_duty(now) if (p := self.person(pid)) and p.active]
        return []

    def account_manager(self, customer_id: str, hint: str | None = None) -> Person | None:
        return self.person(hint) or self.person(self.account_managers.get(customer_id))

    def supervisor_of(self, person: Person) -> Person | None:
        dept = self.department(person.department)
        sup = self.person(dept.supervisor) if dept else None
        return sup if sup is not None and sup.id != person.id else self.head_of(person)

    def head_of(self, person: Person) -> Person | None:
        dept = self.department(person.department)
        return self.person(dept.head) if dept else None

    def escalation_level(self, level: int) -> EscalationLevel | None:
        levels = sorted(self.escalation, key=lambda x: x.level)
        chosen = [x for x in levels if x.level <= level]
        return chosen[-1] if chosen else None


def load_directory(path: Path | str | None = None) -> Directory:
    raw = yaml.safe_load(Path(path or DEFAULT_DIRECTORY_FILE).read_text(encoding="utf-8"))
    return Directory.model_validate(raw)


# ------------------------------------------------------------------ resolution


class _Collector:
    def __init__(self, alert: AlertData) -> None:
        self._alert = alert
        self._order: list[str] = []
        self._people: dict[str, Person] = {}
        self._whys: dict[str, list[Why]] = {}

    def add(self, person: Person | None, why: Why) -> None:
        if person is None or not person.active:
            return
        if person.id not in self._people:
            self._order.append(person.id)
            self._people[person.id] = person
            self._whys[person.id] = []
        if why not in self._whys[person.id]:
            self._whys[person.id].append(why)

    def result(self) -> list[Recipient]:
        return [
            Recipient(person=p, channels=p.channels, whys=tuple(self._whys[p.id]),
                      reason="; ".join(w.audit(self._alert) for w in self._whys[p.id]))
            for pid in self._order
            if (p := self._people[pid]).channels
        ]


def _handlers(data: AlertData, directory: Directory, now: datetime) -> list[tuple[Person, Why]]:
    assignee = directory.person(data.assignee)
    if assignee is not None and assignee.active:
        return [(assignee, Why(kind=WhyKind.ASSIGNEE))]
    why = Why(kind=WhyKind.ON_DUTY, unknown_assignee=data.assignee or None)
    return [(p, why) for p in directory.on_duty(data.role, now)]


def _escalation_targets(
    level: EscalationLevel, data: AlertData, directory: Directory, now: datetime
) -> list[tuple[Person | None, Why]]:
    am = directory.account_manager(data.customer_id, data.account_manager_id)
    handlers = [h for h, _ in _handlers(data, directory, now)]
    out: list[tuple[Person | None, Why]] = []
    n = level.level
    for t in level.targets:
        if t.kind == "person":
            out.append((directory.person(t.person), Why(kind=WhyKind.ESCALATION, level=n)))
        elif t.kind == "account_manager":
            out.append((am, Why(kind=WhyKind.ESCALATION_ACCOUNT_MANAGER, level=n)))
        elif t.kind == "am_department_supervisor" and am is not None:
            out.append((directory.supervisor_of(am),
                        Why(kind=WhyKind.ESCALATION_SUPERVISOR, level=n, department=am.department)))
        elif t.kind == "am_department_head" and am is not None:
            out.append((directory.head_of(am), Why(kind=WhyKind.ESCALATION_HEAD, level=n, department=am.department)))
        elif t.kind == "handler_department_supervisor":
            out += [(directory.supervisor_of(h), Why(kind=WhyKind.ESCALATION_SUPERVISOR, level=n,
                                                     department=h.department)) for h in handlers]
        elif t.kind == "handler_department_head":
            out += [(directory.head_of(h), Why(kind=WhyKind.ESCALATION_HEAD, level=n, department=h.department))
                    for h in handlers]
    return out


def resolve_recipients(
    event_type: str,
    data: AlertData | Mapping[str, Any],
    directory: Directory,
    now: datetime,
) -> list[Recipient]:
    """Who gets this alert, in a stable order, each person once (reasons merged)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    alert = data if isinstance(data, AlertData) else AlertData.model_validate(data)
    out = _Collector(alert)
    if event_type in ("sla.warning", "sla.breached"):
        handlers = _handlers(alert, directory, now)
        for person, why in handlers:
            out.add(person, why)
        am = directory.account_manager(alert.customer_id, alert.account_manager_id)
        out.add(am, Why(kind=WhyKind.ACCOUNT_MANAGER))
        if event_type == "sla.breached":
            basis = [h for h, _ in handlers] or ([am] if am else [])
            for handler in basis:
                out.add(directory.supervisor_of(handler), Why(kind=WhyKind.SUPERVISOR, department=handler.department))
    elif event_type == "sla.escalated":
        level = directory.escalation_level(alert.level or 1)
        if level is not None:
            for target, why in _escalation_targets(level, alert, directory, now):
                out.add(target, why)
    return out.result()


__all__ = [
    "AlertData",
    "Channel",
    "Department",
    "Directory",
    "EscalationLevel",
    "EscalationTarget",
    "Person",
    "Recipient",
    "Roster",
    "Shift",
    "TimeRange",
    "Why",
    "WhyKind",
    "load_directory",
    "resolve_recipients",
]
