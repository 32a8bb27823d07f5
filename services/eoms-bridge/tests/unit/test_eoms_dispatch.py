"""The organisation and the dispatch choice (pure): on-duty resolution by region and Shanghai time, round
robin fairness, least loaded, and the organisation file's validation naming the exact field."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from eoms_bridge.domain.dispatch import (
    DEFAULT_ORGANISATION_FILE,
    OrganisationError,
    Strategy,
    choose,
    load_organisation,
    next_after,
    parse_organisation,
)

SHANGHAI_OFFSET = timedelta(hours=8)


def shanghai(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    """A Shanghai wall-clock time, as the UTC instant the services use."""
    return datetime(y, m, d, hh, mm, tzinfo=UTC) - SHANGHAI_OFFSET


def raw() -> dict[str, Any]:
    return {
        "version": 1,
        "regions": [{"id": "north"}, {"id": "south"}],
        "departments": [{"id": "net", "name": "网络部"}, {"id": "si", "name": "SI"}],
        "partners": [{"id": "huawei", "name": "华为"}],
        "people": [
            {"id": "n1", "name": "N1", "roles": ["network_resource"], "department": "net"},
            {"id": "n2", "name": "N2", "roles": ["network_resource"], "department": "net"},
            {"id": "s1", "name": "S1", "roles": ["network_resource"], "department": "net"},
            {"id": "gone", "name": "G", "roles": ["network_resource"], "department": "net", "active": False},
            {"id": "hw1", "name": "HW", "roles": ["partner_si"], "department": "si", "partner": "huawei"},
        ],
        "dispatch": [{"role": "network_resource", "strategy": "round_robin"}],
        "rosters": [
            {"role": "network_resource", "regions": ["north"], "shifts": [
                {"days": "mon-fri", "hours": "08:30-17:30", "people": ["n1", "n2", "gone"]},
                {"days": "mon-fri", "hours": "17:30-08:30", "people": ["n2"]}]},
            {"role": "network_resource", "regions": ["*"], "shifts": [
                {"days": "daily", "hours": "08:30-08:30", "people": ["s1"]}]},
        ],
        "partner_nodes": [{"partner": "huawei", "regions": ["north"]}],
    }


def test_the_shipped_organisation_is_valid() -> None:
    org = load_organisation(DEFAULT_ORGANISATION_FILE)
    assert org.rule("network_resource") is not None and org.people


def test_on_duty_by_region_and_shanghai_time() -> None:
    org = parse_organisation(raw())
    # Wednesday 2026-12-02, 10:00 in Shanghai is 02:00 UTC: the day shift of the north (inactive people left out)
    assert org.on_duty("network_resource", "north", shanghai(2026, 12, 2, 10)) == ["n1", "n2"]
    # 17:30 sharp: the day shift has ended (end exclusive), the night one begun
    assert org.on_duty("network_resource", "north", shanghai(2026, 12, 2, 17, 30)) == ["n2"]
    # Saturday 07:00 belongs to Friday's night shift (a shift crossing midnight belongs to the day it starts)
    assert org.on_duty("network_resource", "north", shanghai(2026, 12, 5, 7)) == ["n2"]
    # Saturday 10:00: the north roster has no shift, and the region's own roster wins over "*": nobody
    assert org.on_duty("network_resource", "north", shanghai(2026, 12, 5, 10)) == []
    # a region without a roster of its own (or no region at all) takes the "*" roster
    assert org.on_duty("network_resource", "south", shanghai(2026, 12, 5, 10)) == ["s1"]
    assert org.on_duty("network_resource", None, shanghai(2026, 12, 2, 3)) == ["s1"]
    assert org.on_duty("field_engineer", "north", shanghai(2026, 12, 2, 10)) == []
    with pytest.raises(ValueError, match="timezone-aware"):
        org.on_duty("network_resource", "north", datetime(2026, 12, 2, 10))


def test_partner_nodes_and_units() -> None:
    org = parse_organisation(raw())
    assert org.partner_of("m2m.opening", "si_integration", "north") == "huawei"
    assert org.partner_of("m2m.opening", "si_integration", "south") is None
    assert org.members("net", "network_resource") == ["n1", "n2", "s1"]
    assert org.members("si", "network_resource") == []


@pytest.mark.parametrize(("change", "field", "message"), [
    (lambda r: r["people"][1].update(department="nowhere"), "people[1].department", "unknown department"),
    (lambda r: r["rosters"][0]["shifts"][1]["people"].append("ghost"), "rosters[0].shifts[1].people[1]",
     "unknown person 'ghost'"),
    (lambda r: r["rosters"][1]["shifts"][0]["people"].append("hw1"), "rosters[1].shifts[0].people[1]",
     "does not hold the roster's role"),
    (lambda r: r["rosters"][0]["regions"].append("mars"), "rosters[0].regions[1]", "unknown region 'mars'"),
    (lambda r: r["rosters"][0]["shifts"][0].update(days="mon-fry"), "rosters[0].shifts[0].days",
     "unknown weekday"),
    (lambda r: r["rosters"][0]["shifts"][0].update(hours="8-17"), "rosters[0].shifts[0].hours", "HH:MM"),
    (lambda r: r["people"][0].update(roles=["wizard"]), "people[0].roles[0]", "Input should be"),
    (lambda r: r["people"][4].update(partner="zte"), "people[4].partner", "unknown partner 'zte'"),
    (lambda r: r["people"][0].update(partner="huawei"), "people[0].partner", "holds partner_si"),
    (lambda r: r["dispatch"][0].update(strategy="random"), "dispatch[0].strategy", "Input should be"),
    (lambda r: r["dispatch"].append({"role": "network_resource"}), "dispatch[1].role", "a second rule"),
    (lambda r: r["people"].append(dict(r["people"][0])), "people[5].id", "duplicate id 'n1'"),
    (lambda r: r["partner_nodes"][0].update(partner="zte"), "partner_nodes[0].partner", "unknown partner"),
    (lambda r: r.update(version=2), "version", "reads version 1"),
    (lambda r: r.update(timezone="Mars/Olympus"), "timezone", ""),
])
def test_a_mistake_in_the_organisation_names_its_field(change: Any, field: str, message: str) -> None:
    data = raw()
    change(data)
    with pytest.raises(OrganisationError) as caught:
        parse_organisation(data, source="organisation.yaml")
    assert any(path == field and message in msg for path, msg in caught.value.errors), caught.value.errors
    assert str(caught.value).startswith("organisation.yaml: ")


def test_an_unreadable_file_names_the_file(tmp_path: Any) -> None:
    bad = tmp_path / "organisation.yaml"
    bad.write_text(yaml.safe_dump({**raw(), "people": "nobody"}), encoding="utf-8")
    with pytest.raises(OrganisationError, match=r"organisation.yaml: people: "):
        load_organisation(bad)


# ---------------------------------------------------------------------------------------- choosing
def test_round_robin_and_least_loaded() -> None:
    assert next_after(["b", "a", "c"], None) == "a"
    assert next_after(["a", "b", "c"], "a") == "b"
    assert next_after(["a", "b", "c"], "c") == "a"
    assert next_after(["a", "c"], "b") == "c"  # the last one left the roster: the next in order
    assert next_after([], "a") is None
    assert choose(Strategy.LEAST_LOADED, ["a", "b", "c"], load={"a": 2, "b": 1, "c": 1}, last="b") == "c"
    assert choose(Strategy.LEAST_LOADED, ["a", "b"], load={"a": 0, "b": 3}, last="a") == "a"
    assert choose(Strategy.ROUND_ROBIN, ["a", "b"], load={"a": 0, "b": 3}, last="a") == "b"
    assert choose(Strategy.LEAST_LOADED, [], load={}) is None


people = st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=3), min_size=1, max_size=8, unique=True)


@given(candidates=people, rounds=st.integers(min_value=1, max_value=60), start=st.integers(min_value=0, max_value=7))
def test_round_robin_is_fair(candidates: list[str], rounds: int, start: int) -> None:
    """n dispatches over a fixed roster: everyone gets floor(n/k) or ceil(n/k), whoever was last before."""
    last: str | None = sorted(candidates)[start % len(candidates)] if start else None
    got: Counter[str] = Counter()
    for _ in range(rounds):
        last = choose(Strategy.ROUND_ROBIN, candidates, last=last)
        assert last is not None
        got[last] += 1
    counts = [got[c] for c in candidates]
    assert max(counts) - min(counts) <= 1 and sum(counts) == rounds


@given(candidates=people, loads=st.lists(st.integers(min_value=0, max_value=20), min_size=8, max_size=8),
       rounds=st.integers(min_value=0, max_value=60))
def test_least_loaded_levels_the_load(candidates: list[str], loads: list[int], rounds: int) -> None:
    """Each pick goes to a least-loaded person; the spread never grows past max(initial spread, 1), and once
    everyone has been levelled it stays within 1."""
    load = {c: loads[i] for i, c in enumerate(candidates)}
    spread0 = max(load.values()) - min(load.values())
    deficit = sum(max(load.values()) - v for v in load.values())  # picks needed to level everyone up
    last: str | None = None
    for _ in range(rounds):
        low = min(load.values())
        last = choose(Strategy.LEAST_LOADED, candidates, load=load, last=last)
        assert last is not None and load[last] == low
        load[last] += 1
        assert max(load.values()) - min(load.values()) <= max(spread0, 1)
    if rounds >= deficit:
        assert max(load.values()) - min(load.values()) <= 1


def test_a_broken_organisation_fails_the_start(tmp_path: Any) -> None:
    """Business configuration is validated at load: the bridge does not start on a mistake, and says where."""
    from eoms_bridge.bootstrap import bootstrap
    from eoms_bridge.settings import EomsSettings

    data = raw()
    data["people"][1]["department"] = "nowhere"
    bad = tmp_path / "organisation.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(OrganisationError, match=r"people\[1\]\.department: unknown department 'nowhere'"):
        bootstrap(EomsSettings(environment="test", organisation_file=str(bad)))
