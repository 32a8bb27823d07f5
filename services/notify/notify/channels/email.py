"""E-mail over SMTP (aiosmtplib): HTML + text parts, and the attachments a delivery row carries
(`meta.attachments`: the daily report's CSV); TLS, STARTTLS and auth from SMTP_URL.

Connections are kept open and reused (one per dispatch worker): fewer round trips per message,
and a shorter time between the server's acceptance and our `sent` commit. `EmailChannel` is the
dispatch workers' adapter (`notify.channels.base.Channel`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlparse

import aiosmtplib

from backbone.masking import mask_email
from notify.channels.base import ChannelName, PermanentSendError, Row, Sent


class SmtpSender:
    idle_reconnect_s = 30.0  # servers drop idle sessions; don't find out by failing a message

    def __init__(self, url: str, mail_from: str) -> None:
        u = urlparse(url)
        self.host = u.hostname or "127.0.0.1"
        self.use_tls = u.scheme == "smtps"
        self.port = u.port or (465 if self.use_tls else 25)
        self.username = unquote(u.username) if u.username else None
        self.password = unquote(u.password) if u.password else None
        self.start_tls = parse_qs(u.query).get("starttls", ["0"])[0] in ("1", "true")
        self.mail_from = mail_from
        self.domain = mail_from.partition("@")[2] or "groupsuite.example"
        self._idle: asyncio.Queue[tuple[aiosmtplib.SMTP, float]] = asyncio.Queue()

    def message_id(self, delivery_id: str) -> str:
        # Stable per delivery: a retry after a crash carries the same Message-ID, so the receiving
        # side (MUA, archive) can recognise the copy.
        return f"<{delivery_id}@{self.domain}>"

    def build(self, *, to: str, subject: str, text: str, html: str | None, delivery_id: str,
              attachments: Sequence[Mapping[str, str]] = ()) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.mail_from
        msg["To"] = to
        msg["Subject"] = subject
        msg["Message-ID"] = self.message_id(delivery_id)
        msg["X-Delivery-Id"] = delivery_id
        msg.set_content(text)
        if html:
            msg.add_alternative(html, subtype="html")
        for a in attachments:  # {filename, content_type, content}: text (the report's CSV, UTF-8)
            maintype, _, subtype = a.get("content_type", "text/plain").partition("/")
            if maintype != "text":
                raise PermanentSendError(f"attachment {a['filename']}: only text attachments are supported")
            msg.add_attachment(a["content"], subtype=subtype or "plain", filename=a["filename"])
        return msg

    async def _connection(self) -> aiosmtplib.SMTP:
        while not self._idle.empty():
            client, since = self._idle.get_nowait()
            if client.is_connected and time.monotonic() - since < self.idle_reconnect_s:
                return client
            await self._close(client)
        client = aiosmtplib.SMTP(
            hostname=self.host, port=self.port, use_tls=self.use_tls, start_tls=self.start_tls or None, timeout=15,
        )
        await client.connect()
        if self.username:
            await client.login(self.username, self.password or "")
        return client

    @staticmethod
    async def _close(client: aiosmtplib.SMTP) -> None:
        try:
            await client.quit()
        except Exception:  # noqa: BLE001 - closing a broken session
            client.close()

    async def send(self, *, to: str, subject: str, text: str, html: str | None, delivery_id: str,
                   attachments: Sequence[Mapping[str, str]] = ()) -> str:
        msg = self.build(to=to, subject=subject, text=text, html=html, delivery_id=delivery_id,
                         attachments=attachments)
        client = await self._connection()
        try:
            await client.send_message(msg)
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:
                self._idle.put_nowait((client, time.monotonic()))  # the session itself is fine
                raise PermanentSendError(f"SMTP {exc.code} {exc.message}") from exc
            client.close()
            raise
        except aiosmtplib.SMTPRecipientsRefused as exc:
            self._idle.put_nowait((client, time.monotonic()))
            if all(r.code >= 500 for r in exc.recipients):
                raise PermanentSendError(f"recipient refused: {exc.recipients[0].message}") from exc
            raise
        except BaseException:
            client.close()
            raise
        self._idle.put_nowait((client, time.monotonic()))
        return str(msg["Message-ID"])

    async def close(self) -> None:
        while not self._idle.empty():
            await self._close(self._idle.get_nowait()[0])


class EmailChannel:
    """One e-mail per delivery row; the Message-ID derives from the delivery id (a resend keeps it)."""

    name: ChannelName = "email"
    permanent_errors: tuple[type[Exception], ...] = (PermanentSendError,)

    def __init__(self, sender: SmtpSender) -> None:
        self.sender = sender

    async def send(self, row: Row) -> Sent:
        provider_id = await self.sender.send(
            to=row["address"], subject=row["subject"] or "", text=row["body"], html=row["body_html"],
            delivery_id=row["id"], attachments=(row.get("meta") or {}).get("attachments", ()),
        )
        return Sent(provider_id, summary=f"to {mask_email(row['address'])}")
