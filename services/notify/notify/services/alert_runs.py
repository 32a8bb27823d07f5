"""A run of SLA alerts queued set-based (the consumer's `apply_run`): what `queue_alert_messages` does for
one event, for a whole run of one partition in a handful of statements instead of about seven per event.

In the run's inbox transaction, in event order:
1. every recipient of every alert resolved (pure), every person concerned locked at once
   (`pg_advisory_xact_lock`, the same keys and the same order as `lock_people`: sorted person ids);
2. their decision history read in one query, then `decide(...)` per alert and recipient in event
   order, each decision added to the person's history before the next alert is decided (what the
   event-by-event path sees through its own earlier inserts in the same transaction);
3. the decisions inserted in one statement, the delivery rows in one, their
   `notify.delivery.recorded` events in one (`emit_envelopes`).

Same rows, same events, same policy outcomes as event by event (the integration tests of the
service run through this path; `SET_BASED_CONSUMER=false` switches it off). A failure anywhere rolls
the run back and the consumer applies it event by event (backbone.consumer).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.envelope import Envelope
from backbone.outbox import emit_envelopes
from notify.domain.directory import AlertData, Directory, Recipient, resolve_recipients
from notify.domain.policy import Decision, DecisionKind, HistoryEntry, PolicyAlert, decide
from notify.domain.templates import TemplateStore, alert_context
from notify.models import decisions
from notify.services.deliveries import (
    _INSERT_DELIVERY,
    _STATUS_OF,
    _key,
    alert_delivery_row,
    decision_row,
    delivery_envelope,
    render,
)
from notify.settings import NotifySettings

# The same lock class and keys as `lock_people`; taken in the order of the (sorted) array.
_LOCK_ALL = text(
    "SELECT count(pg_advisory_xact_lock(7262, k)) FROM "
    "(SELECT k FROM unnest(:keys) WITH ORDINALITY AS u(k, n) ORDER BY n) AS ordered"
).bindparams(bindparam("keys", type_=ARRAY(Integer)))
_HISTORY_ALL = select(
    decisions.c.recipient_id, decisions.c.decided_at, decisions.c.event_type, decisions.c.ticket_id,
    decisions.c.outcome, decisions.c.level,
).where(decisions.c.recipient_id == func.any(bindparam("people", type_=ARRAY(String))),
        decisions.c.decided_at > bindparam("since"))
_INSERT_DECISIONS = (
    insert(decisions).on_conflict_do_nothing()
    .returning(decisions.c.source_event_id, decisions.c.recipient_id)
)


async def queue_alert_run(
    session: AsyncSession,
    *,
    events: Sequence[Envelope],
    directory: Directory,
    templates: TemplateStore,
    settings: NotifySettings,
    now: datetime | None = None,
) -> int:
    """Queue the messages of a run of alert events (in the caller's transaction); how many were queued."""
    start = now or datetime.now(UTC)
    config = settings.policy()
    resolved: list[tuple[Envelope, AlertData, datetime, Sequence[Recipient]]] = []
    for i, event in enumerate(events):
        at = start + timedelta(microseconds=i)  # event order survives in `decided_at`
        alert = AlertData.model_validate(event.data)
        recipients = resolve_recipients(event.type, alert, directory, at)
        if recipients:
            resolved.append((event, alert, at, recipients))
    people = sorted({r.person.id for *_, recipients in resolved for r in recipients})
    if not people:
        return 0
    await session.execute(_LOCK_ALL, {"keys": [_key(p) for p in people]})
    history: dict[str, list[HistoryEntry]] = {p: [] for p in people}
    for r in await session.execute(_HISTORY_ALL, {"people": people, "since": start - settings.history_span}):
        history[r.recipient_id].append(HistoryEntry(r.decided_at, r.event_type, r.ticket_id, DecisionKind(r.outcome),
                                                    r.level))

    decision_rows: list[dict[str, Any]] = []
    planned: list[tuple[Envelope, AlertData, datetime, Recipient, Decision]] = []
    for event, alert, at, targets in resolved:
        policy_alert = PolicyAlert.of(event.type, alert)
        for recipient in targets:
            person = recipient.person
            decision = decide(person, policy_alert, history[person.id], at, config)
            history[person.id].append(HistoryEntry(at, event.type, alert.ticket_id, decision.kind, alert.level))
            decision_rows.append(decision_row(event, alert, person.id, decision, at))
            planned.append((event, alert, at, recipient, decision))
    inserted = {(r.source_event_id, r.recipient_id) for r in await session.execute(_INSERT_DECISIONS, decision_rows)}

    rows: list[dict[str, Any]] = []
    for event, alert, at, recipient, decision in planned:
        person = recipient.person
        if (str(event.id), person.id) not in inserted:
            continue  # decided before (the event-by-event path skips it the same way)
        context = alert_context(alert, person, directory, recipient.reason, recipient.whys)
        status = _STATUS_OF[decision.kind]
        reason = f"{decision.reason} ({recipient.reason})" if decision.kind is DecisionKind.SEND else decision.reason
        for channel in recipient.channels:
            content = render(templates, event.type, channel.value, person, context)
            rows.append(alert_delivery_row(event, alert, person, channel.value, status, reason, at, content))
    if not rows:
        return 0
    written = set((await session.execute(_INSERT_DELIVERY, rows)).scalars())
    done = [row for row in rows if row["id"] in written]
    await emit_envelopes(session, [delivery_envelope(session, row, row["status"], row["reason"]) for row in done])
    return sum(row["status"] == "queued" for row in done)

