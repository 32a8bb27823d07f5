"""The roster (person -> department): validated at start, and the same as notify's directory."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from stats.domain.roster import DEFAULT_ROSTER_PATH, UNASSIGNED, Roster, load_roster

NOTIFY_DIRECTORY = Path(__file__).resolve().parents[3] / "notify" / "notify" / "data" / "directory.yaml"


def test_shipped_roster_matches_notify_directory() -> None:
    roster = load_roster(DEFAULT_ROSTER_PATH)
    directory = yaml.safe_load(NOTIFY_DIRECTORY.read_text(encoding="utf-8"))
    assert {d["id"]: d.get("head") for d in directory["departments"]} == {d.id: d.head for d in roster.departments}
    assert {p["id"]: p["department"] for p in directory["people"] if p.get("department")} == roster.people


def test_lookups() -> None:
    roster = load_roster(DEFAULT_ROSTER_PATH)
    assert roster.department_of("p-wanglei") == "network"
    assert roster.department_of("nobody") == UNASSIGNED
    assert roster.department_of(None) == UNASSIGNED
    # p-zhoutao heads the network department and the partner one.
    assert roster.departments_of_head("p-zhoutao") == {"network", "partner"}
    assert roster.name_of("network") == "网络部"


def test_broken_rosters_are_refused() -> None:
    with pytest.raises(ValidationError, match="unknown departments"):
        Roster.model_validate({"version": 1, "departments": [{"id": "a", "name": "A"}], "people": {"x": "b"}})
    with pytest.raises(ValidationError, match="duplicate"):
        Roster.model_validate({"version": 1, "departments": [{"id": "a", "name": "A"}, {"id": "a", "name": "B"}],
                               "people": {}})
    with pytest.raises(ValidationError):
        Roster.model_validate({"version": 1, "departments": [{"id": "a", "name": "A", "boss": "x"}], "people": {}})
