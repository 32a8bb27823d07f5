"""Delivery use cases: queue messages for an alert (in the inbox transaction), then dispatch them.

Dispatch claims a due delivery and marks it `sending` in a committed transaction *before* talking
to the server, and `sent` after. A process killed inside that window leaves a `sending` row: it is
retried after `stale_after` (at-least-once in that one window, which is as narrow as it can be
without the server's help); every other crash point loses nothing and sends nothing twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone.envelope import Envelope
from backbone.events import AlertContext, DeliveryRecorded
from backbone.ids import new_id
from backbone.logging import mask_email
from backbone.outbox import add_event
from notify.channels.email import SmtpSender
from notify.models import deliveries, outbox
from notify.settings import NotifySettings

SOURCE = "notify"
log = logging.getLogger("notify.deliveries")


async def _record(session: AsyncSession, row: dict[str, object], status: str, reason: str | None = None) -> None:
    await add_event(
        session,
        outbox,
        Envelope.wrap(
            DeliveryRecorded(
                delivery_id=str(row["id"]),
                source_event_id=str(row["source_event_id"]),
                source_event_type=str(row["source_event_type"]),
                recipient_id=str(row["recipient_id"]),
                channel=row["channel"],
                status=status,
                reason=reason,  # type: ignore[arg-type]
                ticket_id=row.get("ticket_id"),
                recorded_at=datetime.now(UTC),  # type: ignore[arg-type]
            ),
            source=SOURCE,
            subject=str(row["id"]),
        ),
    )


async def queue_alert_messages(
    session: AsyncSession, *, event: Envelope, alert: AlertContext, settings: NotifySettings
) -> int:
    """Slice behaviour: one e-mail to the customer's account manager."""
    now = datetime.now(UTC)
    row = {
        "id": new_id("dlv"),
        "source_event_id": str(event.id),
        "source_event_type": event.type,
        "ticket_id": alert.ticket_id,
        "recipient_id": alert.account_manager_id,
        "channel": "email",
        "address": f"{alert.account_manager_id}@{settings.mail_domain}",
        "subject": f"[SLA {event.type}] ticket {alert.ticket_id} node {alert.node}",
        "body": (
            f"Ticket {alert.ticket_id} ({alert.business_type}) of {alert.customer_name} (tier "
            f"{alert.customer_tier}) passed its deadline {alert.deadline.isoformat()} at node {alert.node}."
        ),
        "body_html": None,
        "status": "queued",
        "next_attempt_at": now,
    }
    inserted = (
        await session.execute(insert(deliveries).values(**row).on_conflict_do_nothing().returning(deliveries.c.id))
    ).first()
    if inserted:
        await _record(session, row, "queued")
    return 1 if inserted else 0


class Dispatcher:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], settings: NotifySettings) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.smtp = SmtpSender(settings.smtp_url, settings.mail_from)
        self.stale_after = timedelta(seconds=60)

    async def claim_due(self, now: datetime) -> list[dict[str, object]]:
        d = deliveries
        async with self.session_factory() as session, session.begin():
            rows = (
                await session.execute(
                    select(d)
                    .where(
                        or_(
                            d.c.status.in_(["queued", "retrying"]) & (d.c.next_attempt_at <= now),
                            (d.c.status == "sending") & (d.c.updated_at < now - self.stale_after),
                        )
                    )
                    .order_by(d.c.next_attempt_at)
                    .limit(self.settings.dispatch_batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if rows:
                await session.execute(
                    update(d)
                    .where(d.c.id.in_([r.id for r in rows]))
                    .values(status="sending", attempts=d.c.attempts + 1, updated_at=now)
                )
        return [dict(r._mapping) for r in rows]

    async def dispatch_once(self) -> int:
        claimed = await self.claim_due(datetime.now(UTC))
        for row in claimed:
            await self._send_one(row)
        return len(claimed)

    async def _send_one(self, row: dict[str, object]) -> None:
        try:
            provider_id = await self.smtp.send(
                to=str(row["address"]),
                subject=str(row["subject"]),
                text=str(row["body"]),
                html=row.get("body_html"),
                delivery_id=str(row["id"]),  # type: ignore[arg-type]
            )
        except Exception as exc:  # noqa: BLE001 - any send failure is retried, then recorded as failed
            await self._failed(row, f"{type(exc).__name__}: {exc}")
            return
        async with self.session_factory() as session, session.begin():
            await session.execute(
                update(deliveries)
                .where(deliveries.c.id == row["id"])
                .values(status="sent", provider_message_id=provider_id, updated_at=datetime.now(UTC), reason=None)
            )
            await _record(session, row, "sent")
        log.info("e-mail sent to %s", mask_email(str(row["address"])))

    async def _failed(self, row: dict[str, object], reason: str) -> None:
        attempts = int(row["attempts"]) + 1  # type: ignore[call-overload]
        final = attempts >= self.settings.max_send_attempts
        now = datetime.now(UTC)
        async with self.session_factory() as session, session.begin():
            await session.execute(
                update(deliveries)
                .where(deliveries.c.id == row["id"])
                .values(
                    status="failed" if final else "retrying",
                    reason=reason,
                    updated_at=now,
                    next_attempt_at=None if final else now + timedelta(seconds=min(60, 2**attempts)),
                )
            )
            if final:
                await _record(session, row, "failed", reason)
        log.warning("send of %s failed (attempt %d): %s", row["id"], attempts, reason)
