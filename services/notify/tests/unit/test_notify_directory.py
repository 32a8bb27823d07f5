from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from notify.domain.directory import Channel, Directory, TimeRange, load_directory, resolve_recipients

SH = ZoneInfo("Asia/Shanghai")
DIR = load_directory()


def sh(day: int, hh: int, mm: int = 0) -> datetime:
    """June 2024 in Shanghai: the 10th is a Monday, the 15th a Saturday."""
    return datetime(2024, 6, day, hh, mm, tzinfo=SH)


def alert(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ticket_id": "T-1",
        "node": "数据制作",
        "business_type": "vpmn",
        "ticket_kind": "service_opening",
        "customer_id": "cus_tj_port",
        "customer_name": "天津港集团有限公司",
        "tier": "A",
        "role": "data_production",
        "assignee": "p-huangjing",
        "account_manager_id": "am_zhang",
        "deadline": "2024-06-11T10:30:00+08:00",
        "lateness_seconds": 0,
        "unknown_extra_field": "ignored",
    }
    base.update(over)
    return base


def ids(event_type: str, data: dict[str, Any], now: datetime) -> list[str]:
    return [r.person.id for r in resolve_recipients(event_type, data, DIR, now)]


@pytest.mark.parametrize(
    ("event_type", "data", "now", "expected"),
    [
        # warning: assignee + account manager
        ("sla.warning", alert(), sh(11, 10), ["p-huangjing", "am_zhang"]),
        # unassigned: on duty for the node's role (day / evening / fallback at night)
        ("sla.warning", alert(assignee=None), sh(11, 10), ["p-huangjing", "am_zhang"]),
        ("sla.warning", alert(assignee=None), sh(11, 19), ["p-hejun", "am_zhang"]),
        ("sla.warning", alert(assignee=None), sh(11, 23), ["p-machao", "am_zhang"]),
        # night shift crossing midnight belongs to the day it starts (Mon 17:30 → Tue 08:30)
        ("sla.warning", alert(assignee=None, role="network_resource"), sh(11, 3), ["p-zhaomin", "am_zhang"]),
        ("sla.warning", alert(assignee=None, role="network_resource"), sh(11, 9), ["p-wanglei", "am_zhang"]),
        ("sla.warning", alert(assignee=None, role="network_resource"), sh(15, 12), ["p-zhaomin", "am_zhang"]),
        # two people on duty at once
        (
            "sla.warning",
            alert(assignee=None, role="field_engineer"),
            sh(11, 10),
            ["p-sunhao", "p-zhoujie", "am_zhang"],
        ),
        # unknown assignee id: falls back to the roster
        ("sla.warning", alert(assignee="p-nobody"), sh(11, 10), ["p-huangjing", "am_zhang"]),
        # account manager from the directory when the event lacks it
        (
            "sla.warning",
            alert(account_manager_id=None, customer_id="cus_tj_gov"),
            sh(11, 10),
            ["p-huangjing", "am_li"],
        ),
        # breached: + supervisor of the handler's department
        ("sla.breached", alert(), sh(11, 11), ["p-huangjing", "am_zhang", "p-machao"]),
        (
            "sla.breached",
            alert(role="network_resource", assignee="p-wanglei"),
            sh(11, 11),
            ["p-wanglei", "am_zhang", "p-liuyang"],
        ),
        # nobody on duty and no fallback: supervisor of the account manager's department
        ("sla.breached", alert(role="unstaffed", assignee=None), sh(11, 11), ["am_zhang", "p-lina"]),
        # escalations per level
        ("sla.escalated", alert(level=1), sh(11, 12), ["p-lina", "p-machao"]),
        ("sla.escalated", alert(level=2), sh(11, 12), ["p-chenjianguo", "p-linfeng"]),
        ("sla.escalated", alert(level=3), sh(11, 12), ["p-xuzhiming", "p-chenjianguo"]),
        ("sla.escalated", alert(level=7), sh(11, 12), ["p-xuzhiming", "p-chenjianguo"]),
        # met: nobody
        ("sla.met", alert(), sh(11, 12), []),
        ("sla.unknown", alert(), sh(11, 12), []),
    ],
)
def test_resolution_table(event_type: str, data: dict[str, Any], now: datetime, expected: list[str]) -> None:
    assert ids(event_type, data, now) == expected


def test_accepts_shared_event_field_names() -> None:
    data = alert()
    data["customer_tier"] = data.pop("tier")
    assert ids("sla.warning", data, sh(11, 10)) == ["p-huangjing", "am_zhang"]


def test_same_person_once_with_merged_reasons() -> None:
    data = alert(assignee="am_zhang")
    [r] = resolve_recipients("sla.warning", data, DIR, sh(11, 10))
    assert r.person.id == "am_zhang"
    assert r.reason == "assignee of 数据制作; account manager of cus_tj_port"
    assert r.channels == (Channel.SMS, Channel.EMAIL)


def test_channels_follow_contact_data() -> None:
    d = Directory.model_validate(
        {
            "people": [
                {"id": "a", "name": "甲", "roles": ["account_manager"], "department": "d", "email": "a@example.com"},
                {"id": "b", "name": "乙", "roles": ["noc_tester"], "department": "d"},
            ],
            "departments": [{"id": "d", "name": "D"}],
        }
    )
    rs = resolve_recipients("sla.warning", alert(assignee="b", account_manager_id="a"), d, sh(11, 10))
    assert [(r.person.id, r.channels) for r in rs] == [("a", (Channel.EMAIL,))]


def test_naive_now_is_utc() -> None:
    assert ids("sla.warning", alert(assignee=None), datetime(2024, 6, 11, 2, 0)) == ["p-huangjing", "am_zhang"]


def test_quiet_hours() -> None:
    qh = TimeRange.model_validate("22:00-08:00")
    p = DIR.person("am_zhang")
    assert p is not None and p.quiet_hours == qh
    assert p.in_quiet_hours(sh(11, 23)) and p.in_quiet_hours(sh(11, 7, 59))
    assert not p.in_quiet_hours(sh(11, 8)) and not p.in_quiet_hours(sh(11, 21, 59))
    assert TimeRange.model_validate("12:00-13:00").contains(sh(11, 12, 30).time())


def test_directory_integrity_is_checked() -> None:
    with pytest.raises(ValidationError, match="unknown account manager p-x"):
        Directory.model_validate({"people": [], "departments": [], "account_managers": {"C-1": "p-x"}})
    with pytest.raises(ValidationError, match="unknown department"):
        Directory.model_validate(
            {"people": [{"id": "a", "name": "甲", "roles": [], "department": "zz"}], "departments": []}
        )


def test_demo_data_is_sane() -> None:
    assert len(DIR.people) >= 20
    for p in DIR.people:
        if p.phone:
            assert p.phone.startswith("138") and len(p.phone) == 11
        if p.email:
            assert p.email.endswith("example.com")
    for role in ("network_resource", "data_production", "field_engineer", "noc_tester", "complaint_desk", "partner_si"):
        for hour in range(24):
            assert DIR.on_duty(role, sh(11, hour)), (role, hour)
            assert DIR.on_duty(role, sh(15, hour)), (role, hour)
