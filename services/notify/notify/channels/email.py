"""E-mail over SMTP (`smtp_session.SmtpSession`): HTML + text parts, and the attachments a delivery row
carries (`meta.attachments`: the daily report's CSV); TLS, STARTTLS and auth from SMTP_URL.

Connections are pooled and reused (SMTP_CONNECTIONS sessions at most, each sending one message at
a time, many messages per session: MAIL FROM / RCPT TO / DATA per message, no new connection, no
QUIT): fewer round trips per message, and a shorter time between the server's acceptance and our
`sent` commit. With a server that offers PIPELINING a message is two round trips, four without.
The concurrent sends of the dispatch workers' batches share the pool.

An alert (text + HTML, no attachment, ASCII addresses) is written as MIME bytes directly (`mime`:
base64 UTF-8 parts, the subject RFC 2047-encoded): the `email` package's header registry and
generator cost more CPU than the rest of a send. Anything else (the report's attachment) goes
through `EmailMessage` (`build`). `EmailChannel` is the
dispatch workers' adapter (`notify.channels.base.Channel`).
"""

from __future__ import annotations

import asyncio
import base64
import socket
import time
from collections.abc import Mapping, Sequence
from email import policy
from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import parse_qs, unquote, urlparse

from backbone.masking import mask_email
from notify.channels.base import ChannelName, PermanentSendError, Row, Sent
from notify.channels.smtp_session import SmtpReplyError, SmtpSession


class SmtpSender:
    idle_reconnect_s = 30.0  # servers drop idle sessions; don't find out by failing a message

    def __init__(self, url: str, mail_from: str, *, connections: int = 32) -> None:
        u = urlparse(url)
        self.host = u.hostname or "127.0.0.1"
        self.use_tls = u.scheme == "smtps"
        self.port = u.port or (465 if self.use_tls else 25)
        self.username = unquote(u.username) if u.username else None
        self.password = unquote(u.password) if u.password else None
        self.start_tls = parse_qs(u.query).get("starttls", ["0"])[0] in ("1", "true")
        self.mail_from = mail_from
        self.domain = mail_from.partition("@")[2] or "groupsuite.example"
        self.local_name = socket.gethostname() or "localhost"  # what EHLO says
        self._idle: asyncio.Queue[tuple[SmtpSession, float]] = asyncio.Queue()
        self._slots = asyncio.Semaphore(connections)  # sessions in use at once (idle ones wait in `_idle`)

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

    def mime(self, *, to: str, subject: str, text: str, html: str | None, delivery_id: str) -> bytes | None:
        """The message as MIME bytes (multipart/alternative when there is HTML); None when `build` must do it."""
        if not (to.isascii() and self.mail_from.isascii() and delivery_id.isascii()) or any(
                c in to + delivery_id for c in "\r\n"):
            return None
        subject = " ".join(subject.split())  # no line breaks in a header
        if subject.isascii() and len(subject) <= 900:
            subject_header = subject
        else:
            subject_header = Header(subject, "utf-8").encode(linesep="\r\n")
        head = (f"From: {self.mail_from}\r\nTo: {to}\r\nSubject: {subject_header}\r\n"
                f"Date: {formatdate(usegmt=True)}\r\nMessage-ID: {self.message_id(delivery_id)}\r\n"
                f"X-Delivery-Id: {delivery_id}\r\nMIME-Version: 1.0\r\n")
        if not html:
            return (head + _part("plain", text)).encode("ascii")
        boundary = f"=_alt_{delivery_id}"  # "=_" never occurs in base64 text
        return (f"{head}Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n"
                f"--{boundary}\r\n{_part('plain', text)}--{boundary}\r\n{_part('html', html)}"
                f"--{boundary}--\r\n").encode("ascii")

    async def _connection(self) -> SmtpSession:
        while not self._idle.empty():
            client, since = self._idle.get_nowait()
            if client.is_connected and time.monotonic() - since < self.idle_reconnect_s:
                return client
            await client.close()
        return await SmtpSession.open(self.host, self.port, use_tls=self.use_tls, start_tls=self.start_tls,
                                      username=self.username, password=self.password, local_name=self.local_name)

    async def send(self, *, to: str, subject: str, text: str, html: str | None, delivery_id: str,
                   attachments: Sequence[Mapping[str, str]] = ()) -> str:
        raw = None if attachments else self.mime(to=to, subject=subject, text=text, html=html,
                                                 delivery_id=delivery_id)
        msg = raw if raw is not None else self.build(to=to, subject=subject, text=text, html=html,
                                                      delivery_id=delivery_id, attachments=attachments)
        async with self._slots:
            await self._send(to, msg)
        return self.message_id(delivery_id)

    async def _send(self, to: str, msg: EmailMessage | bytes) -> None:
        content = msg if isinstance(msg, bytes) else msg.as_bytes(policy=policy.SMTP)
        client = await self._connection()
        try:
            await client.send(self.mail_from, to, content)
        except SmtpReplyError as exc:  # the server answered: the session is fine (reset), back to the pool
            if exc.code == 421:  # … unless the server is closing it
                client.abort()
            else:
                self._idle.put_nowait((client, time.monotonic()))
            if exc.code >= 500:
                raise PermanentSendError(f"SMTP {exc}") from exc
            raise
        except BaseException:
            client.abort()
            raise
        self._idle.put_nowait((client, time.monotonic()))

    async def close(self) -> None:
        while not self._idle.empty():
            await self._idle.get_nowait()[0].close()


def _part(subtype: str, body: str) -> str:
    """One text part: its headers, a blank line, the UTF-8 body in base64 (76-character lines)."""
    encoded = base64.encodebytes(body.encode("utf-8")).decode("ascii").replace("\n", "\r\n")
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            f"{encoded}")


class EmailChannel:
    """One e-mail per delivery row; the Message-ID derives from the delivery id (a resend keeps it)."""

    name: ChannelName = "email"
    permanent_errors: tuple[type[Exception], ...] = (PermanentSendError,)
    # the session's connect/disconnect/timeout errors are ConnectionError or TimeoutError (both OSError)
    unreachable_errors: tuple[type[BaseException], ...] = (OSError,)

    def __init__(self, sender: SmtpSender) -> None:
        self.sender = sender

    async def send(self, row: Row) -> Sent:
        provider_id = await self.sender.send(
            to=row["address"], subject=row["subject"] or "", text=row["body"], html=row["body_html"],
            delivery_id=row["id"], attachments=(row.get("meta") or {}).get("attachments", ()),
        )
        return Sent(provider_id, summary=f"to {mask_email(row['address'])}")
