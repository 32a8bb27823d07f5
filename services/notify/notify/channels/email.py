"""E-mail over SMTP (aiosmtplib): HTML + text parts; STARTTLS and auth from SMTP_URL."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import parse_qs, unquote, urlparse

import aiosmtplib


class SmtpSender:
    def __init__(self, url: str, mail_from: str) -> None:
        u = urlparse(url)
        self.host = u.hostname or "127.0.0.1"
        self.use_tls = u.scheme == "smtps"
        self.port = u.port or (465 if self.use_tls else 25)
        self.username = unquote(u.username) if u.username else None
        self.password = unquote(u.password) if u.password else None
        self.start_tls = parse_qs(u.query).get("starttls", ["0"])[0] in ("1", "true")
        self.mail_from = mail_from

    async def send(self, *, to: str, subject: str, text: str, html: str | None, delivery_id: str) -> str:
        msg = EmailMessage()
        msg["From"] = self.mail_from
        msg["To"] = to
        msg["Subject"] = subject
        # A stable Message-ID per delivery lets a receiving system spot a resend.
        msg["Message-ID"] = make_msgid(idstring=delivery_id, domain="groupsuite")
        msg["X-Delivery-Id"] = delivery_id
        msg.set_content(text)
        if html:
            msg.add_alternative(html, subtype="html")
        await aiosmtplib.send(
            msg,
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.use_tls,
            start_tls=self.start_tls or None,
            timeout=15,
        )
        return str(msg["Message-ID"])
