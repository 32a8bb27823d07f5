"""A real SMTP server for development and tests (aiosmtpd): accepts mail, records it, prints a line.

`python -m devtools.smtp --port 2525 --mailbox .data/run/mailbox.jsonl`

In-process (`SmtpServer`, the tests) and with `--mailbox` (`make run`) it is aiosmtpd, every message
parsed and kept. The command line without `--mailbox` (the benchmarks) keeps nothing: `LeanSmtpServer`,
a plain asyncio protocol speaking the same SMTP (EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing, RSET,
NOOP, QUIT) that reads only the Subject for its line: aiosmtpd cost about 2 CPU-ms per message, so a
benchmark at hundreds of e-mails a second measured this server, not the client. It offers PIPELINING
(RFC 2920: it answers every command in what it read, in order, in one write) and CHUNKING (RFC 3030: BDAT,
the message as a counted chunk after its command), as production MTAs do; `--no-chunking` hides CHUNKING
(the client's DATA path), `--no-pipelining` both (the client's one-command-at-a-time path).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.header import decode_header, make_header
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
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
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


def _subject(content: bytes) -> str:
    """The Subject header of a message, unfolded and RFC 2047-decoded."""
    head = content.partition(b"\r\n\r\n")[0].decode("utf-8", "replace")
    if head.startswith("Subject:"):
        start = 0
    elif (at := head.find("\nSubject:")) >= 0:
        start = at + 1
    else:
        return ""
    lines = head[start + len("Subject:"):].split("\r\n")
    value = lines[0] + "".join(line for line in itertools.takewhile(lambda x: x[:1] in (" ", "\t"), lines[1:]))
    value = value.strip()
    return str(make_header(decode_header(value))) if "=?" in value else value


class _LeanSession(asyncio.Protocol):
    """One SMTP session of `LeanSmtpServer` (no TLS, no AUTH: a local development server)."""

    def __init__(self, server: LeanSmtpServer) -> None:
        self.server = server
        self.buffer = b""
        self.in_data = False
        self.rcpt: list[str] = []
        self.mail_from: str | None = None
        self.transport: asyncio.Transport | None = None
        self.chunk: tuple[int, bool] | None = None  # BDAT: (octets still to read, LAST), while reading a chunk
        self.chunks: list[bytes] = []  # the message so far (BDAT without LAST)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(f"220 {self.server.hostname} ESMTP devtools.smtp\r\n".encode())

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        out: list[bytes] = []
        while self.transport is not None:
            if self.chunk is not None:
                size, last = self.chunk
                if len(self.buffer) < size:
                    break
                self.chunks.append(self.buffer[:size])
                self.buffer, self.chunk = self.buffer[size:], None
                if not self.rcpt:  # the chunk is read (RFC 3030) and refused
                    self.chunks = []
                    out.append(b"503 Error: need RCPT command\r\n")
                elif last:
                    content, self.chunks = b"".join(self.chunks), []
                    self.server.received(self.mail_from or "", self.rcpt, content)
                    self.mail_from, self.rcpt = None, []
                    out.append(b"250 Message accepted for delivery\r\n")
                else:
                    out.append(f"250 {size} octets received\r\n".encode())
                continue
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0 and self.buffer.startswith(b".\r\n"):
                    end, body = -2, b""
                elif end < 0:
                    break
                else:
                    body = self.buffer[:end + 2]
                self.buffer = self.buffer[end + 5:]
                self.in_data = False
                self.server.received(self.mail_from or "", self.rcpt, body.replace(b"\r\n..", b"\r\n."))
                self.mail_from, self.rcpt = None, []
                out.append(b"250 Message accepted for delivery\r\n")
                continue
            line, sep, rest = self.buffer.partition(b"\r\n")
            if not sep:
                break
            self.buffer = rest
            reply = self.command(line.decode("utf-8", "replace"))
            out.append(reply.encode())
            if reply.startswith("221"):
                self.transport.write(b"".join(out))
                self.transport.close()
                return
        if out and self.transport is not None:
            self.server.writes += 1
            self.transport.write(b"".join(out))

    def command(self, line: str) -> str:
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        if verb == "EHLO":
            pipelining = "250-PIPELINING\r\n" if self.server.pipelining else ""
            chunking = "250-CHUNKING\r\n" if self.server.chunking else ""
            return f"250-{self.server.hostname}\r\n250-8BITMIME\r\n{pipelining}{chunking}250 HELP\r\n"
        if verb == "HELO":
            return f"250 {self.server.hostname}\r\n"
        if verb == "MAIL":
            self.mail_from, self.rcpt = _address(arg), []
            return "250 OK\r\n"
        if verb == "RCPT":
            if self.mail_from is None:
                return "503 Error: need MAIL command\r\n"
            if (refusal := self.server.refuse.get(_address(arg))) is not None:
                return f"{refusal}\r\n"
            self.rcpt.append(_address(arg))
            return "250 OK\r\n"
        if verb == "DATA":
            if not self.rcpt:
                return "503 Error: need RCPT command\r\n"
            self.in_data = True
            return "354 End data with <CR><LF>.<CR><LF>\r\n"
        if verb == "BDAT" and self.server.chunking:
            size, _, last = arg.strip().partition(" ")
            if not size.isdigit() or last.strip().upper() not in ("", "LAST"):
                return "501 Syntax: BDAT <size> [LAST]\r\n"
            self.chunk = (int(size), bool(last.strip()))  # its reply comes once the chunk is read
            return ""
        if verb == "RSET":
            self.mail_from, self.rcpt, self.chunks = None, [], []
            return "250 OK\r\n"
        if verb == "NOOP":
            return "250 OK\r\n"
        if verb == "QUIT":
            return "221 Bye\r\n"
        return f"502 Command not implemented: {verb[:20]}\r\n"

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


def _address(arg: str) -> str:
    """`FROM:<a@b> SIZE=1` / `TO:<a@b>` → `a@b`."""
    value = arg.partition(":")[2].strip()
    return value[1:value.find(">")] if value.startswith("<") else value.split(" ")[0]


class LeanSmtpServer:
    """The command line's server without a mailbox: prints one masked line per message, keeps nothing."""

    def __init__(self, host: str, port: int, *, pipelining: bool = True, chunking: bool = True) -> None:
        self.host, self.port, self.hostname = host, port, "devtools.smtp"
        self.pipelining = pipelining
        self.chunking = chunking and pipelining  # offered together (the client chunks only when pipelining)
        self.refuse: dict[str, str] = {}  # recipient → the reply its RCPT gets (tests: "550 no such user")
        self.writes = 0  # reply writes: one per round trip of a client
        self.count = 0

    def received(self, mail_from: str, rcpt_tos: list[str], content: bytes) -> None:
        self.count += 1
        to = ", ".join(mask_email(r) for r in rcpt_tos)
        print(f"[smtp] mail to {to}: {_subject(content)}", flush=True)

    async def serve(self) -> None:
        server = await asyncio.get_running_loop().create_server(lambda: _LeanSession(self), self.host, self.port)
        print(f"[smtp] listening on smtp://{self.host}:{self.port}", flush=True)
        async with server:
            await server.serve_forever()


def read_mailbox(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class SmtpServer:
    """aiosmtpd in a background thread; usable from tests and from the dev launcher."""

    def __init__(self, host: str = "127.0.0.1", port: int = 2525, mailbox: Path | None = None, echo: bool = True):
        self.handler = RecordingHandler(mailbox=mailbox, echo=echo)
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
    parser.add_argument("--no-pipelining", action="store_true",
                        help="the lean server offers neither PIPELINING nor CHUNKING")
    parser.add_argument("--no-chunking", action="store_true", help="the lean server does not offer CHUNKING")
    args = parser.parse_args()
    if not args.mailbox:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(LeanSmtpServer(args.host, args.port, pipelining=not args.no_pipelining,
                                       chunking=not args.no_chunking).serve())
        return
    args.mailbox.parent.mkdir(parents=True, exist_ok=True)
    server = SmtpServer(args.host, args.port, args.mailbox).start()
    print(f"[smtp] listening on {server.url}", flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
