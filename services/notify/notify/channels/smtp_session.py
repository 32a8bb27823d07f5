"""One SMTP client session (RFC 5321) on asyncio streams: what the e-mail channel's pool holds.

Connect (plain, implicit TLS, or STARTTLS), EHLO (HELO if refused), AUTH PLAIN / LOGIN, then any number
of messages, one at a time. When the server offers PIPELINING (RFC 2920) a message costs two round trips
instead of four: MAIL FROM, RCPT TO and DATA are written at once and their three replies read together,
then the content and its final reply. When it also offers CHUNKING (RFC 3030, as Postfix and Exim do), one:
MAIL FROM, RCPT TO and `BDAT <size> LAST` with the content in one write, their three replies read together
(no dot-stuffing, no 354 to wait for). Without PIPELINING the commands go one by one. No QUIT on the hot path:
`close()` says QUIT when the pool lets a session go.

A reply code ≥ 400 raises `SmtpReplyError` (the channel maps 5xx to a permanent failure, 4xx to a retry);
a dropped connection, a timeout or a reply that is not SMTP raises `ConnectionError` / `TimeoutError`
(both `OSError`: the server unreachable).
"""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
from dataclasses import dataclass

from notify.channels.base import PermanentSendError

_DOT_LINE = re.compile(rb"(?m)^\.")  # dot-stuffing (RFC 5321 4.5.2)
_BARE_LF = re.compile(rb"(?<!\r)\n")


class SmtpReplyError(Exception):
    """The server answered a command with a reply code of 400 or more."""

    def __init__(self, code: int, message: str, command: str) -> None:
        super().__init__(f"{command}: {code} {message}")
        self.code, self.message, self.command = code, message, command


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    message: str


def crlf_lines(content: bytes) -> bytes:
    """The message with CRLF line ends, ending in CRLF (what BDAT carries as it is)."""
    body = content
    if body.count(b"\n") != body.count(b"\r\n"):  # (the counts: no regex pass over MIME we wrote with CRLF)
        body = _BARE_LF.sub(b"\r\n", body)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body


def data_block(content: bytes) -> bytes:
    """The message as it goes after DATA: CRLF line ends, leading dots doubled, the final `.` line."""
    body = crlf_lines(content)
    if body.startswith(b".") or b"\n." in body:
        body = _DOT_LINE.sub(b"..", body)
    return body + b".\r\n"


class SmtpSession:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout_s: float) -> None:
        self.reader, self.writer, self.timeout_s = reader, writer, timeout_s
        self.extensions: dict[str, str] = {}  # EHLO keyword → its parameters ("AUTH" → "PLAIN LOGIN")

    @classmethod
    async def open(cls, host: str, port: int, *, use_tls: bool = False, start_tls: bool = False,
                   username: str | None = None, password: str | None = None, local_name: str = "localhost",
                   timeout_s: float = 15.0) -> SmtpSession:
        context = ssl.create_default_context() if use_tls or start_tls else None
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(host, port, ssl=context if use_tls else None)
        session = cls(reader, writer, timeout_s)
        try:
            _expect(await session.read_reply(), (220,), "greeting")
            await session.hello(local_name)
            if start_tls:
                _expect(await session.command(b"STARTTLS"), (220,), "STARTTLS")
                assert context is not None
                async with asyncio.timeout(timeout_s):
                    await writer.start_tls(context, server_hostname=host)
                await session.hello(local_name)
            if username is not None:
                await session.login(username, password or "")
        except BaseException:
            session.abort()
            raise
        return session

    @property
    def pipelining(self) -> bool:
        return "PIPELINING" in self.extensions

    @property
    def is_connected(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    async def hello(self, local_name: str) -> None:
        reply = await self.command(b"EHLO " + local_name.encode())
        if reply.code == 250:
            # the first line names the server; each further line one extension ("SIZE 1000", "AUTH PLAIN LOGIN")
            self.extensions = {}
            for line in reply.message.split("\n")[1:]:
                keyword, _, params = line.partition(" ")
                if keyword:
                    self.extensions[keyword.upper()] = params.upper()
            return
        self.extensions = {}
        _expect(await self.command(b"HELO " + local_name.encode()), (250,), "HELO")

    async def login(self, username: str, password: str) -> None:
        """AUTH PLAIN, or AUTH LOGIN when the server offers only that."""
        mechanisms = self.extensions.get("AUTH", "PLAIN").split()
        if "PLAIN" in mechanisms or "LOGIN" not in mechanisms:
            secret = base64.b64encode(f"\0{username}\0{password}".encode())
            reply = await self.command(b"AUTH PLAIN " + secret)
        else:
            reply = await self.command(b"AUTH LOGIN")
            for value in (username, password):
                if reply.code != 334:
                    break
                reply = await self.command(base64.b64encode(value.encode()))
        _expect(reply, (235,), "AUTH")

    @property
    def chunking(self) -> bool:
        """CHUNKING (RFC 3030) with PIPELINING: the whole message in one write and one round trip."""
        return "CHUNKING" in self.extensions and self.pipelining

    async def send(self, mail_from: str, to: str, content: bytes) -> Reply:
        """One message to one recipient; returns the server's acceptance, raises `SmtpReplyError` otherwise."""
        _check_address(mail_from)
        _check_address(to)
        if self.chunking:
            return await self._send_chunked(mail_from, to, content)
        envelope = (b"MAIL FROM:<" + mail_from.encode() + b">", b"RCPT TO:<" + to.encode() + b">", b"DATA")
        if self.pipelining:
            self.writer.write(b"\r\n".join(envelope) + b"\r\n")
            async with asyncio.timeout(self.timeout_s):  # one deadline for the three replies
                replies = [await self._read_reply() for _ in envelope]
        else:
            replies = []
            for line in envelope:
                replies.append(await self.command(line))
                if replies[-1].code >= 400:
                    break
        failed = next(((line, r) for line, r in zip(envelope, replies, strict=False) if r.code >= 400), None)
        if failed is not None:
            if len(replies) == 3 and replies[2].code == 354:  # DATA accepted after all: end it empty
                await self.command(b".")
            await self.command(b"RSET")
            line, reply = failed
            raise SmtpReplyError(reply.code, reply.message, line.split(b":")[0].decode())
        _expect(replies[2], (354,), "DATA")
        self.writer.write(data_block(content))
        return _expect(await self.read_reply(), (250,), "DATA")

    async def _send_chunked(self, mail_from: str, to: str, content: bytes) -> Reply:
        """MAIL FROM, RCPT TO and `BDAT <size> LAST` with the content (CRLF line ends, no dot-stuffing) in one
        write, their three replies read together. A refused MAIL or RCPT makes the server refuse the BDAT
        too (it still reads the chunk): the session is reset and the first refusal raised."""
        body = crlf_lines(content)
        commands = (b"MAIL FROM:<" + mail_from.encode() + b">", b"RCPT TO:<" + to.encode() + b">",
                    b"BDAT %d LAST" % len(body))
        self.writer.write(b"\r\n".join(commands) + b"\r\n" + body)
        async with asyncio.timeout(self.timeout_s):  # one deadline for the exchange
            replies = [await self._read_reply() for _ in commands]
        failed = next(((name, r) for name, r in zip(("MAIL FROM", "RCPT TO", "BDAT"), replies, strict=True)
                       if r.code >= 400), None)
        if failed is not None:
            await self.command(b"RSET")
            name, reply = failed
            raise SmtpReplyError(reply.code, reply.message, name)
        return _expect(replies[2], (250,), "BDAT")

    async def command(self, line: bytes) -> Reply:
        if b"\r" in line or b"\n" in line:
            raise ValueError("a command holds no line break")
        self.writer.write(line + b"\r\n")
        return await self.read_reply()

    async def read_reply(self) -> Reply:
        async with asyncio.timeout(self.timeout_s):
            return await self._read_reply()

    async def _read_reply(self) -> Reply:
        """One reply (its lines), without a deadline of its own: the caller's."""
        code, lines = 0, []
        while True:
            raw = await self.reader.readline()
            if not raw.endswith(b"\n"):
                raise ConnectionResetError("the SMTP server closed the connection")
            if len(raw) < 4 or not raw[:3].isdigit() or raw[3:4] not in (b" ", b"-", b"\r", b"\n"):
                raise ConnectionResetError(f"not an SMTP reply: {raw[:40]!r}")
            code = int(raw[:3])
            lines.append(raw[4:].rstrip(b"\r\n").decode("utf-8", "replace"))
            if raw[3:4] != b"-":
                return Reply(code, "\n".join(lines))

    async def close(self) -> None:
        """QUIT and close (a broken session is just closed)."""
        try:
            if self.is_connected:
                await self.command(b"QUIT")
        except (OSError, SmtpReplyError):
            pass
        finally:
            self.abort()

    def abort(self) -> None:
        self.writer.close()


def _expect(reply: Reply, codes: tuple[int, ...], what: str) -> Reply:
    if reply.code not in codes:
        raise SmtpReplyError(reply.code, reply.message, what)
    return reply


def _check_address(address: str) -> None:
    if any(c in address for c in "\r\n<> ") or not address.isascii() or "@" not in address:
        raise PermanentSendError("address not writable in an SMTP envelope (ASCII, one @, no spaces or brackets)")
