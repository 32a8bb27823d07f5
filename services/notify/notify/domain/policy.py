"""Anti-storm policy (pure): should this alert go to this person now?

Rules, first match wins:

1. ``sla.met`` (or anything not an alert)          → suppress ``not_notifiable``
2. same (event type, ticket, level) already sent or digested to this person within
   ``dedup_window``                                 → suppress ``duplicate``
3. the person is in quiet hours (their time zone) and the alert is not urgent
   (urgent = tier-A breach or any escalation)        → suppress ``quiet_hours``
4. the person already got ``rate_limit`` messages within ``rate_window``
                                                     → suppress ``rate_limited``
5. this alert would be alert number > ``digest_threshold`` for the person within
   ``digest_window``                                 → digest ``digest`` (goes into one summary)
6. otherwise                                         → send

``history_window`` is what was decided for this recipient recently (any order, older entries are
ignored); the service records each decision, and a sent digest summary as ``event_type="digest"``
with outcome ``send``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import Field

from backbone.shapes import FrozenModel
from notify.domain.directory import AlertData, Person

ALERT_TYPES = frozenset({"sla.warning", "sla.breached", "sla.escalated"})
DIGEST_EVENT = "digest"


class DecisionKind(StrEnum):
    SEND = "send"
    SUPPRESS = "suppress"
    DIGEST = "digest"


@dataclass(frozen=True, slots=True)
class Decision:
    kind: DecisionKind
    reason: str


class PolicyConfig(FrozenModel):
    rate_limit: int = Field(default=10, ge=1, description="messages per person per rate_window")
    rate_window: timedelta = timedelta(hours=1)
    digest_threshold: int = Field(default=3, ge=1, description="alerts before digesting")
    digest_window: timedelta = timedelta(minutes=15)
    dedup_window: timedelta = timedelta(minutes=30)


DEFAULT_POLICY = PolicyConfig()


@dataclass(frozen=True, slots=True)
class PolicyAlert:
    event_type: str
    ticket_id: str
    tier: str
    level: int | None = None

    @classmethod
    def of(cls, event_type: str, alert: AlertData) -> PolicyAlert:
        return cls(event_type, alert.ticket_id, alert.tier, alert.level)

    @property
    def urgent(self) -> bool:
        """Bypasses quiet hours: a tier-A breach or any escalation."""
        return self.event_type == "sla.escalated" or (self.event_type == "sla.breached" and self.tier == "A")


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    event_type: str
    ticket_id: str | None
    outcome: DecisionKind
    level: int | None = None


def decide(
    recipient: Person,
    alert: PolicyAlert,
    history_window: Sequence[HistoryEntry],
    now: datetime,
    config: PolicyConfig = DEFAULT_POLICY,
) -> Decision:
    if alert.event_type not in ALERT_TYPES:
        return Decision(DecisionKind.SUPPRESS, "not_notifiable")

    def within(window: timedelta) -> list[HistoryEntry]:
        return [h for h in history_window if now - window < h.at <= now]

    delivered = (DecisionKind.SEND, DecisionKind.DIGEST)
    for h in within(config.dedup_window):
        if (
            h.outcome in delivered
            and h.event_type == alert.event_type
            and h.ticket_id == alert.ticket_id
            and h.level == alert.level
        ):
            return Decision(DecisionKind.SUPPRESS, "duplicate")

    if recipient.in_quiet_hours(now) and not alert.urgent:
        return Decision(DecisionKind.SUPPRESS, f"quiet_hours {recipient.quiet_hours}")

    sent = [h for h in within(config.rate_window) if h.outcome is DecisionKind.SEND]
    if len(sent) >= config.rate_limit:
        return Decision(
            DecisionKind.SUPPRESS,
            f"rate_limited {len(sent)}/{config.rate_limit} per {_minutes(config.rate_window)} min",
        )

    recent_alerts = [h for h in within(config.digest_window) if h.event_type != DIGEST_EVENT and h.outcome in delivered]
    if len(recent_alerts) + 1 > config.digest_threshold:
        return Decision(
            DecisionKind.DIGEST,
            f"digest {len(recent_alerts) + 1} alerts in {_minutes(config.digest_window)} min",
        )
    return Decision(DecisionKind.SEND, "ok")


def digest_due(history_window: Sequence[HistoryEntry], now: datetime, config: PolicyConfig = DEFAULT_POLICY) -> bool:
    """True when digested alerts are waiting and the oldest of them is a digest window old
    (and no summary was sent since): time to send the summary."""
    pending = [h for h in history_window if h.outcome is DecisionKind.DIGEST]
    if not pending:
        return False
    oldest = min(h.at for h in pending)
    summaries = [h for h in history_window if h.event_type == DIGEST_EVENT and h.outcome is DecisionKind.SEND]
    if summaries and max(h.at for h in summaries) >= max(h.at for h in pending):
        return False
    return now - oldest >= config.digest_window


def _minutes(window: timedelta) -> int:
    return int(window.total_seconds() // 60)
