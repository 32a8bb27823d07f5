"""A real SMTP server for development and tests (aiosmtpd): accepts mail, records it, prints a line.

`python -m devtools.smtp --port 2525 --mailbox .data/run/mailbox.jsonl`

In-process (`SmtpServer`, the tests) every message is parsed and kept (`handler.messages`). The command
line without `--mailbox` keeps nothing, so it reads only the headers it prints (a benchmark's 500 e-mails
a second must measure the client, not this server's MIME parsing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from backbone.masking import mask_email


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    subject: str
    text: str
    html: str | None
    headers: dict[str, str]
    attachments: dict[str, str] = field(default_factory=dict)  # filename -> text content


@dataclass
class RecordingHandler:
    mailbox: Path | None = None
    messages: list[ReceivedMail] = field(default_factory=list)
    echo: bool = True
    keep: bool = True  # parse and keep every message (False: headers only, for the echo line)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self.keep:
            if self.echo:
                headers = _HEADERS.parsebytes(envelope.content)
                to = ", ".join(mask_email(r) for r in envelope.rcpt_tos)
                print(f"[smtp] mail to {to}: {headers.get('Subject', '')}", flush=True)
            return "250 Message accepted for delivery"
        msg = message_from_bytes(envelope.content, policy=policy.default)
        text_part = msg.get_body(preferencelist=("plain",))
        html_part = msg.get_body(preferencelist=("html",))
        mail = ReceivedMail(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            subject=str(msg.get("Subject", "")),
            text=text_part.get_content() if text_part else "",
            html=html_part.get_content() if html_part else None,
            headers={k: str(v) for k, v in msg.items()},
            attachments={str(a.get_filename()): a.get_content() for a in msg.iter_attachments()},
        )
        with self._lock:
            self.messages.append(mail)
            if self.mailbox:
                with self.mailbox.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(mail.__dict__, ensure_ascii=False) + "\n")
        if self.echo:
            to = ", ".join(mask_email(r) for r in mail.rcpt_tos)
            print(f"[smtp] mail to {to}: {mail.subject}", flush=True)
        return "250 Message accepted for delivery"


_HEADERS = BytesHeaderParser(policy=policy.default)


def read_mailbox(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class SmtpServer:
    """aiosmtpd in a background thread; usable from tests and from the dev launcher."""

    def __init__(self, host: str = "127.0.0.1", port: int = 2525, mailbox: Path | None = None, echo: bool = True,
                 keep: bool = True):
        self.handler = RecordingHandler(mailbox=mailbox, echo=echo, keep=keep or mailbox is not None)
        self.controller = Controller(self.handler, hostname=host, port=port)
        self.host, self.port = host, port

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Development SMTP server that records every message")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--mailbox", type=Path, default=None)
    args = parser.parse_args()
    if args.mailbox:
        args.mailbox.parent.mkdir(parents=True, exist_ok=True)
    server = SmtpServer(args.host, args.port, args.mailbox, keep=False).start()
    print(f"[smtp] listening on {server.url}", flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
