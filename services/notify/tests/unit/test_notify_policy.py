from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from notify.domain.directory import Person, TimeRange
from notify.domain.policy import (
    Decision,
    DecisionKind,
    HistoryEntry,
    PolicyAlert,
    PolicyConfig,
    decide,
    digest_due,
)

SH = ZoneInfo("Asia/Shanghai")
DAY = datetime(2024, 6, 11, 10, 0, tzinfo=SH)
NIGHT = datetime(2024, 6, 11, 23, 30, tzinfo=SH)
CFG = PolicyConfig(
    rate_limit=5,
    rate_window=timedelta(hours=1),
    digest_threshold=3,
    digest_window=timedelta(minutes=15),
    dedup_window=timedelta(minutes=30),
)
PERSON = Person(
    id="p",
    name="张伟",
    roles=("account_manager",),
    department="d",
    phone="13800000000",
    quiet_hours=TimeRange.model_validate("22:00-08:00"),
)
NO_QUIET = PERSON.model_copy(update={"quiet_hours": None})

S, D, X = DecisionKind.SEND, DecisionKind.DIGEST, DecisionKind.SUPPRESS


def h(
    minutes_ago: float,
    outcome: DecisionKind = S,
    event: str = "sla.warning",
    ticket: str | None = "T-old",
    level: int | None = None,
    now: datetime = DAY,
) -> HistoryEntry:
    return HistoryEntry(now - timedelta(minutes=minutes_ago), event, ticket, outcome, level)


def a(event: str = "sla.warning", tier: str = "B", ticket: str = "T-new", level: int | None = None) -> PolicyAlert:
    return PolicyAlert(event, ticket, tier, level)


@pytest.mark.parametrize(
    ("person", "alert", "history", "now", "kind", "reason"),
    [
        ("p", a(), [], DAY, S, "ok"),
        ("p", a("sla.met"), [], DAY, X, "not_notifiable"),
        # quiet hours: non-urgent suppressed; tier-A breach and escalations bypass
        ("p", a(), [], NIGHT, X, "quiet_hours 22:00-08:00"),
        ("p", a("sla.breached", tier="B"), [], NIGHT, X, "quiet_hours 22:00-08:00"),
        ("p", a("sla.breached", tier="A"), [], NIGHT, S, "ok"),
        ("p", a("sla.escalated", tier="C", level=1), [], NIGHT, S, "ok"),
        ("p", a("sla.warning", tier="A"), [], NIGHT, X, "quiet_hours 22:00-08:00"),
        ("nq", a(), [], NIGHT, S, "ok"),
        # early morning still quiet; 08:00 is not
        ("p", a(), [], datetime(2024, 6, 12, 7, 59, tzinfo=SH), X, "quiet_hours 22:00-08:00"),
        ("p", a(), [], datetime(2024, 6, 12, 8, 0, tzinfo=SH), S, "ok"),
        # duplicates within the dedup window
        ("p", a(ticket="T-old"), [h(10)], DAY, X, "duplicate"),
        ("p", a(ticket="T-old"), [h(31)], DAY, S, "ok"),
        ("p", a(ticket="T-old"), [h(10, X)], DAY, S, "ok"),
        ("p", a("sla.breached", ticket="T-old"), [h(10)], DAY, S, "ok"),
        ("p", a("sla.escalated", ticket="T-old", level=2), [h(5, event="sla.escalated", level=1)], DAY, S, "ok"),
        # digest: the 4th alert within 15 minutes (threshold 3) goes into a summary
        ("p", a(), [h(1, ticket="1"), h(2, ticket="2")], DAY, S, "ok"),
        ("p", a(), [h(1, ticket="1"), h(2, ticket="2"), h(3, ticket="3")], DAY, D, "digest 4 alerts in 15 min"),
        ("p", a(), [h(1, ticket="1"), h(2, ticket="2"), h(16, ticket="3")], DAY, S, "ok"),
        (
            "p",
            a(),
            [h(1, D, ticket="1"), h(2, ticket="2"), h(3, ticket="3"), h(4, D, ticket="4")],
            DAY,
            D,
            "digest 5 alerts in 15 min",
        ),
        ("p", a(), [h(1, X, ticket="1"), h(2, ticket="2"), h(3, ticket="3")], DAY, S, "ok"),
        (
            "p",
            a("sla.escalated", tier="A", level=1),
            [h(1, ticket="1"), h(2, ticket="2"), h(3, ticket="3")],
            DAY,
            D,
            "digest 4 alerts in 15 min",
        ),
        # sent digest summaries do not count as alerts, but count towards the rate limit
        ("p", a(), [h(1, event="digest", ticket=None), h(2, ticket="2"), h(3, ticket="3")], DAY, S, "ok"),
        # rate limit: 5 messages per hour
        ("p", a(), [h(20 + i, ticket=str(i)) for i in range(5)], DAY, X, "rate_limited 5/5 per 60 min"),
        ("p", a(), [h(20 + i, ticket=str(i)) for i in range(4)] + [h(61, ticket="9")], DAY, S, "ok"),
        (
            "p",
            a(),
            [h(20 + i, ticket=str(i)) for i in range(4)] + [h(1, event="digest", ticket=None)],
            DAY,
            X,
            "rate_limited 5/5 per 60 min",
        ),
        # future entries (clock skew) are ignored
        ("p", a(), [h(-5, ticket=str(i)) for i in range(9)], DAY, S, "ok"),
    ],
)
def test_decision_table(
    person: str, alert: PolicyAlert, history: list[HistoryEntry], now: datetime, kind: DecisionKind, reason: str
) -> None:
    who = PERSON if person == "p" else NO_QUIET
    assert decide(who, alert, history, now, CFG) == Decision(kind, reason)


def test_quiet_hours_use_recipient_timezone() -> None:
    london = PERSON.model_copy(update={"timezone": "Europe/London"})
    # 23:30 in Shanghai is 16:30 in London (BST)
    assert decide(london, a(), [], NIGHT, CFG).kind is S


@pytest.mark.parametrize(
    ("history", "minutes_later", "due"),
    [
        ([], 30, False),
        ([h(0, D)], 10, False),
        ([h(0, D)], 15, True),
        ([h(0, D), h(-1, S, event="digest", ticket=None)], 20, False),
        ([h(0, S)], 30, False),
    ],
)
def test_digest_due(history: list[HistoryEntry], minutes_later: int, due: bool) -> None:
    assert digest_due(history, DAY + timedelta(minutes=minutes_later), CFG) is due
