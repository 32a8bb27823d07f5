"""Who belongs to which department: the roster the timeliness per department is computed with. Pure.

A versioned data file (`stats/data/roster.yaml`, `STATS_ROSTER_FILE`), validated at start: every person's
department exists, department ids are unique. A person the roster does not know counts under
`UNASSIGNED` (their figures are kept, not lost).
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

import yaml
from pydantic import Field, model_validator

from backbone.shapes import FrozenClosedModel

DEFAULT_ROSTER_PATH = Path(__file__).resolve().parents[1] / "data" / "roster.yaml"
UNASSIGNED = "unassigned"


class Department(FrozenClosedModel):
    id: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(min_length=1, max_length=100)
    head: str | None = Field(default=None, max_length=60)


class Roster(FrozenClosedModel):
    version: int = Field(ge=1)
    departments: tuple[Department, ...] = Field(min_length=1)
    people: dict[str, str] = Field(description="person id -> department id")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        ids = [d.id for d in self.departments]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"departments: duplicate ids {dupes}")
        if UNASSIGNED in ids:
            raise ValueError(f"departments: {UNASSIGNED!r} is reserved")
        unknown = sorted({f"{p} -> {d}" for p, d in self.people.items() if d not in ids})
        if unknown:
            raise ValueError(f"people: unknown departments {unknown}")
        return self

    def department_of(self, person: str | None) -> str:
        if person is None:
            return UNASSIGNED
        return self.people.get(person, UNASSIGNED)

    def name_of(self, department: str) -> str:
        for d in self.departments:
            if d.id == department:
                return d.name
        return department

    def departments_of_head(self, person: str) -> frozenset[str]:
        """The departments `person` may read as a department head: those they head, and their own."""
        headed = {d.id for d in self.departments if d.head == person}
        own = self.people.get(person)
        return frozenset(headed | ({own} if own else set()))


def load_roster(path: Path) -> Roster:
    """The roster file, validated (a pydantic ValidationError or ValueError names what is wrong)."""
    with path.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a mapping with version, departments and people is expected")
    return Roster.model_validate(raw)
