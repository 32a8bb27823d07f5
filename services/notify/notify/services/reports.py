"""The daily report e-mail: `stats.report.generated` (topic stats.reports) → one e-mail with the report's
CSV attached to each manager of the directory.

The managers are the active people of the directory holding one of `REPORT_RECIPIENT_ROLES` (default:
supervisors and department heads) with an e-mail address. A report is not an alert: no anti-storm policy,
no quiet hours (it comes once a day). Exactly once, as every message: a delivery row per (event,
recipient, channel) under the unique index, written in the consumer's inbox transaction with its
`notify.delivery.recorded` event; the dispatch workers send it with the attachment kept in the row
(`meta.attachments`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backbone.envelope import Envelope
from backbone.events import DailyReportGenerated
from backbone.ids import new_id
from notify.domain.directory import Directory, Person
from notify.domain.templates import TemplateStore
from notify.services.deliveries import _insert_delivery, record, render
from notify.settings import NotifySettings

EVENT = "stats.report.generated"


def report_recipients(directory: Directory, roles: tuple[str, ...]) -> list[Person]:
    return sorted((p for p in directory.people if p.active and p.email and set(p.roles) & set(roles)),
                  key=lambda p: p.id)


async def queue_report_mail(session: AsyncSession, *, event: Envelope, directory: Directory,
                            templates: TemplateStore, settings: NotifySettings, now: datetime | None = None) -> int:
    """Queue the report's e-mail to every manager (in the caller's transaction); how many were queued."""
    now = now or datetime.now(UTC)
    report = event.payload(DailyReportGenerated)
    attachment = {"filename": report.filename, "content_type": report.content_type, "content": report.content}
    queued = 0
    for person in report_recipients(directory, settings.report_recipient_roles):
        context: dict[str, Any] = {"recipient_name": person.name, "day": report.day.isoformat(),
                                   "filename": report.filename, "rows": report.rows}
        row: dict[str, Any] = {
            "id": new_id("dlv"), "source_event_id": str(event.id), "source_event_type": EVENT, "ticket_id": None,
            "recipient_id": person.id, "channel": "email", "address": str(person.email), "lang": person.language,
            "status": "queued", "reason": "daily report", "next_attempt_at": now,
            **render(templates, EVENT, "email", person, context),
            "meta": {"attachments": [attachment], "report_day": report.day.isoformat()},
        }
        if await _insert_delivery(session, row):
            await record(session, row, "queued", "daily report")
            queued += 1
    return queued
