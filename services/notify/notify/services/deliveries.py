"""Delivery use cases: decide and queue messages for an alert (inside the inbox transaction),
queue digest summaries, resend, and read the history.

Every decision — queued, suppressed, digested, and later sent / delivered / failed — is a row in
`deliveries` (one per alert, recipient and channel) and a `notify.delivery.recorded` event written
through the outbox in the same transaction. Sending itself lives in `notify.dispatch`.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.consumer import PermanentError
from backbone.envelope import Envelope
from backbone.errors import NotFound
from backbone.events import DeliveryRecorded
from backbone.ids import new_id
from backbone.outbox import emit_envelopes, envelope_for
from backbone.pagination import fetch_page
from backbone.topics import NOTIFY_DELIVERIES, dlq
from notify.domain.directory import AlertData, Directory, Person, resolve_recipients
from notify.domain.policy import (
    DIGEST_EVENT,
    Decision,
    DecisionKind,
    HistoryEntry,
    PolicyAlert,
    decide,
    digest_due,
)
from notify.domain.templates import (
    RenderedEmail,
    RenderedSms,
    TemplateLoadError,
    TemplateRenderError,
    TemplateStore,
    alert_context,
    digest_context,
)
from notify.models import decisions, deliveries, sms_parts
from notify.settings import NotifySettings

DLQ_TOPIC = dlq(NOTIFY_DELIVERIES)
STATUSES = ("queued", "sent", "delivered", "failed", "suppressed", "digested")
_STATUS_OF = {DecisionKind.SEND: "queued", DecisionKind.SUPPRESS: "suppressed", DecisionKind.DIGEST: "digested"}

Row = Mapping[str, Any]

# Prebuilt statements for the per-event path (parameters bound per call).
_LOCK_PERSON = text("SELECT pg_advisory_xact_lock(:k1, :k2)")
_HISTORY = select(
    decisions.c.decided_at, decisions.c.event_type, decisions.c.ticket_id, decisions.c.outcome, decisions.c.level
).where(decisions.c.recipient_id == bindparam("person"), decisions.c.decided_at > bindparam("since"))
_INSERT_DELIVERY = (
    insert(deliveries)
    .on_conflict_do_nothing(index_elements=["source_event_id", "recipient_id", "channel"],
                            index_where=text("resend_of IS NULL"))
    .returning(deliveries.c.id)
)
_INSERT_DECISION = insert(decisions).on_conflict_do_nothing().returning(decisions.c.recipient_id)


class DeliveryNotFound(NotFound):
    pass


def delivery_envelope(session: AsyncSession, row: Row, status: str, reason: str | None) -> Envelope:
    return envelope_for(
        session,
        DeliveryRecorded(
            delivery_id=str(row["id"]),
            source_event_id=str(row["source_event_id"]),
            source_event_type=str(row["source_event_type"]),
            recipient_id=str(row["recipient_id"]),
            channel=row["channel"],
            status=status,  # type: ignore[arg-type]
            reason=reason,
            ticket_id=row.get("ticket_id"),
            recorded_at=datetime.now(UTC),
        ),
        subject=str(row["id"]),
    )


async def record(
    session: AsyncSession, row: Row, status: str, reason: str | None = None, *, dead_letter: bool = False
) -> None:
    """Emit the decision on notify.deliveries (and, for a delivery given up on, on its DLQ) in the caller's tx."""
    envelope = delivery_envelope(session, row, status, reason)
    await emit_envelopes(session, [envelope])
    if dead_letter:
        # Through the outbox too: the DLQ copy is durable exactly when the `failed` state is.
        await emit_envelopes(session, [envelope.model_copy(update={"id": uuid.uuid4()})], topic=DLQ_TOPIC)


async def lock_people(session: AsyncSession, person_ids: Sequence[str]) -> None:
    """Serialise policy decisions per person across partitions and instances (sorted: no deadlocks)."""
    for pid in sorted(set(person_ids)):
        await session.execute(_LOCK_PERSON, {"k1": 7262, "k2": _key(pid)})


def _key(value: str) -> int:
    return zlib.crc32(value.encode()) - 2**31  # a signed int4


async def history_of(session: AsyncSession, person_id: str, since: datetime) -> list[HistoryEntry]:
    rows = await session.execute(_HISTORY, {"person": person_id, "since": since})
    return [HistoryEntry(r.decided_at, r.event_type, r.ticket_id, DecisionKind(r.outcome), r.level) for r in rows]


def render(
    templates: TemplateStore, event_type: str, channel: str, person: Person, context: Mapping[str, Any]
) -> dict[str, Any]:
    try:
        rendered = templates.render(event_type, channel, person.language, context)
    except (TemplateLoadError, TemplateRenderError) as exc:
        # Retrying cannot fix a template that does not fit the event: dead-letter the event.
        raise PermanentError(f"cannot render {event_type}/{channel}: {exc}") from exc
    if isinstance(rendered, RenderedEmail):
        return {"subject": rendered.subject, "body": rendered.text, "body_html": rendered.html}
    assert isinstance(rendered, RenderedSms)
    return {"subject": None, "body": rendered.text, "body_html": None, "meta": {"parts": len(rendered.parts)}}


def _address(person: Person, channel: str) -> str:
    return str(person.phone if channel == "sms" else person.email)


async def _insert_delivery(session: AsyncSession, row: dict[str, Any]) -> bool:
    return (await session.execute(_INSERT_DELIVERY, row)).first() is not None


async def queue_alert_messages(
    session: AsyncSession,
    *,
    event: Envelope,
    directory: Directory,
    templates: TemplateStore,
    settings: NotifySettings,
    now: datetime | None = None,
) -> int:
    """Resolve the recipients, decide per recipient, and write one delivery row per channel.

    Runs in the consumer's inbox transaction: a redelivered event writes nothing (and the unique
    index would absorb it anyway). Returns the number of messages queued for sending.
    """
    now = now or datetime.now(UTC)
    alert = AlertData.model_validate(event.data)
    recipients = resolve_recipients(event.type, alert, directory, now)
    if not recipients:
        return 0
    await lock_people(session, [r.person.id for r in recipients])
    policy_alert = PolicyAlert.of(event.type, alert)
    config = settings.policy()
    queued = 0
    for recipient in recipients:
        person = recipient.person
        history = await history_of(session, person.id, now - settings.history_span)
        decision = decide(person, policy_alert, history, now, config)
        inserted = await _insert_decision(session, event, alert, person.id, decision, now)
        if not inserted:
            continue
        context = alert_context(alert, person, directory, recipient.reason, recipient.whys)
        status = _STATUS_OF[decision.kind]
        reason = f"{decision.reason} ({recipient.reason})" if decision.kind is DecisionKind.SEND else decision.reason
        for channel in recipient.channels:
            content = render(templates, event.type, channel.value, person, context)
            row = alert_delivery_row(event, alert, person, channel.value, status, reason, now, content)
            if await _insert_delivery(session, row):
                await record(session, row, status, reason)
                queued += status == "queued"
    return queued


def alert_delivery_row(event: Envelope, alert: AlertData, person: Person, channel: str, status: str, reason: str,
                       now: datetime, content: Mapping[str, Any]) -> dict[str, Any]:
    """The `deliveries` row of one alert for one person and channel (every column set: multi-row inserts)."""
    return {
        "id": new_id("dlv"),
        "source_event_id": str(event.id),
        "source_event_type": event.type,
        "ticket_id": alert.ticket_id,
        "recipient_id": person.id,
        "channel": channel,
        "address": _address(person, channel),
        "lang": person.language,
        "status": status,
        "reason": reason,
        "next_attempt_at": now if status == "queued" else None,
        "subject": None, "body_html": None, "meta": {},
        **content,
    }


def decision_row(
    event: Envelope, alert: AlertData, person_id: str, decision: Decision, now: datetime
) -> dict[str, Any]:
    """The `decisions` row of one alert for one person."""
    return {
        "source_event_id": str(event.id),
        "recipient_id": person_id,
        "event_type": event.type,
        "ticket_id": alert.ticket_id,
        "level": alert.level,
        "outcome": decision.kind.value,
        "reason": decision.reason,
        "alert": alert.model_dump(mode="json"),
        "decided_at": now,
    }


async def _insert_decision(
    session: AsyncSession, event: Envelope, alert: AlertData, person_id: str, decision: Decision, now: datetime
) -> bool:
    row = decision_row(event, alert, person_id, decision, now)
    return (await session.execute(_INSERT_DECISION, row)).first() is not None


# ------------------------------------------------------------------ digests


async def people_with_pending_digests(session: AsyncSession) -> list[str]:
    d = decisions
    rows = await session.execute(
        select(d.c.recipient_id).where(d.c.outcome == "digest", d.c.digest_id.is_(None)).distinct()
    )
    return [r[0] for r in rows]


async def queue_digest(
    session: AsyncSession,
    *,
    person_id: str,
    directory: Directory,
    templates: TemplateStore,
    settings: NotifySettings,
    now: datetime | None = None,
) -> int:
    """Queue one summary per channel for `person_id` when its digest is due; returns the alerts carried."""
    now = now or datetime.now(UTC)
    await lock_people(session, [person_id])
    d = decisions
    pending = (
        await session.execute(
            select(d).where(d.c.recipient_id == person_id, d.c.outcome == "digest", d.c.digest_id.is_(None))
            .order_by(d.c.decided_at)
        )
    ).all()
    if not pending:
        return 0
    last_summary = (
        await session.execute(
            select(d.c.decided_at).where(d.c.recipient_id == person_id, d.c.event_type == DIGEST_EVENT)
            .order_by(d.c.decided_at.desc()).limit(1)
        )
    ).scalar()
    history = [HistoryEntry(p.decided_at, p.event_type, p.ticket_id, DecisionKind.DIGEST, p.level) for p in pending]
    if last_summary is not None:
        history.append(HistoryEntry(last_summary, DIGEST_EVENT, None, DecisionKind.SEND))
    config = settings.policy()
    if not digest_due(history, now, config):
        return 0
    digest_id = new_id("dig")
    await session.execute(
        update(d).where(d.c.recipient_id == person_id, d.c.source_event_id.in_([p.source_event_id for p in pending]))
        .values(digest_id=digest_id)
    )
    person = directory.person(person_id)
    if person is None or not person.channels:
        return 0  # left the directory meanwhile: the alerts stay recorded as digested
    items = [(p.event_type, AlertData.model_validate(p.alert)) for p in pending]
    reason = f"summary of {len(items)} alerts"
    await session.execute(
        insert(decisions).values(
            source_event_id=f"digest:{digest_id}", recipient_id=person_id, event_type=DIGEST_EVENT,
            outcome="send", reason=reason, decided_at=now,
        )
    )
    context = digest_context(person, items, int(config.digest_window.total_seconds() // 60))
    for channel in person.channels:
        content = render(templates, DIGEST_EVENT, channel.value, person, context)
        row: dict[str, Any] = {
            "id": new_id("dlv"),
            "source_event_id": f"digest:{digest_id}",
            "source_event_type": DIGEST_EVENT,
            "ticket_id": None,
            "recipient_id": person_id,
            "channel": channel.value,
            "address": _address(person, channel.value),
            "lang": person.language,
            "status": "queued",
            "reason": reason,
            "next_attempt_at": now,
            **content,
        }
        row["meta"] = {**row.get("meta", {}), "digest_of": [p.source_event_id for p in pending]}
        if await _insert_delivery(session, row):
            await record(session, row, "queued", reason)
    return len(items)


# ------------------------------------------------------------------ admin and history


async def resend(session: AsyncSession, *, delivery_id: str, actor: str) -> dict[str, Any]:
    """A new delivery row linked to the old one (`resend_of`), queued now, outside the policy."""
    old = (await session.execute(select(deliveries).where(deliveries.c.id == delivery_id))).first()
    if old is None:
        raise DeliveryNotFound(f"delivery {delivery_id} does not exist")
    o = dict(old._mapping)
    now = datetime.now(UTC)
    meta = {"resend_by": actor}
    for kept in ("parts", "attachments"):  # an SMS's part count, an e-mail's attachments go again
        if kept in o["meta"]:
            meta[kept] = o["meta"][kept]
    row: dict[str, Any] = {
        **{k: o[k] for k in ("source_event_id", "source_event_type", "ticket_id", "recipient_id", "channel",
                             "address", "lang", "subject", "body", "body_html")},
        "id": new_id("dlv"),
        "status": "queued",
        "reason": f"resend of {delivery_id} by {actor}",
        "next_attempt_at": now,
        "resend_of": delivery_id,
        "meta": meta,
    }
    await session.execute(insert(deliveries).values(**row))
    await record(session, row, "queued", row["reason"])
    return (await get_delivery(session, delivery_id=row["id"]))  # type: ignore[return-value]


async def get_delivery(session: AsyncSession, *, delivery_id: str) -> dict[str, Any] | None:
    row = (await session.execute(select(deliveries).where(deliveries.c.id == delivery_id))).first()
    return dict(row._mapping) if row else None


async def list_deliveries(
    session: AsyncSession,
    *,
    ticket_id: str | None = None,
    recipient_id: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first (ids are time-ordered): a keyset page on the id."""
    d = deliveries
    q = select(d)
    if ticket_id:
        q = q.where(d.c.ticket_id == ticket_id)
    if recipient_id:
        q = q.where(d.c.recipient_id == recipient_id)
    if status:
        # `sending` / `retrying` are internal steps of `queued` for the API.
        q = q.where(d.c.status.in_(["queued", "sending", "retrying"]) if status == "queued" else d.c.status == status)
    rows, next_cursor = await fetch_page(session, q, key=(d.c.id,), cursor=cursor, limit=limit, descending=True)
    return [dict(r._mapping) for r in rows], next_cursor


async def sms_parts_of(session: AsyncSession, delivery_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The submitted SMS parts of many deliveries (their SMSC message ids and delivery receipts), by part."""
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in delivery_ids}
    if not delivery_ids:
        return out
    rows = (await session.execute(
        select(sms_parts).where(sms_parts.c.delivery_id.in_(list(delivery_ids)))
        .order_by(sms_parts.c.delivery_id, sms_parts.c.part_no)
    )).all()
    for r in rows:
        out[r.delivery_id].append(dict(r._mapping))
    return out


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(deliveries.c.status, func.count()).group_by(deliveries.c.status))
    return {r[0]: int(r[1]) for r in rows}
