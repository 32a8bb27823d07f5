"""SMSC simulator: a real asyncio SMPP 3.4 server for tests and ``make run``.

It checks system_id/password, answers submit_sm with a message id, records every part and
reassembles concatenated messages (UDH), sends a delivery receipt (deliver_sm) after a short
delay when registered_delivery asks for one, and can be told to go down / refuse binds so that
reconnects can be tested. Phone numbers are masked in its log.

    python -m devtools.smsc --port 2775 [--account notify:secret] [--dlr-delay 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from backbone.masking import mask_phone, mask_pii
from notify.domain.sms import ConcatInfo, decode_part
from notify.smpp import pdu as P

log = logging.getLogger("devtools.smsc")
T = TypeVar("T")
_BIND_RESPONSES: dict[int, type[P.BindTransceiverResp]] = {
    P.CommandId.BIND_TRANSCEIVER: P.BindTransceiverResp,
    P.CommandId.BIND_TRANSMITTER: P.BindTransmitterResp,
    P.CommandId.BIND_RECEIVER: P.BindReceiverResp,
}

_TLV_RECEIPTED_MESSAGE_ID = 0x001E
_TLV_MESSAGE_STATE = 0x0427
_MESSAGE_STATE_DELIVERED = 2


@dataclass(frozen=True, slots=True)
class ReceivedPart:
    message_id: str
    system_id: str
    source: str
    destination: str
    data_coding: int
    esm_class: int
    registered_delivery: int
    payload: bytes
    text: str
    concat: ConcatInfo | None
    received_at: datetime


@dataclass(slots=True)
class ReceivedMessage:
    """A complete message: a single part, or all parts of a concatenated one."""

    destination: str
    source: str
    text: str
    message_ids: list[str]
    parts: int
    received_at: datetime


@dataclass(slots=True)
class SentReceipt:
    message_id: str
    destination: str
    stat: str
    peer: str
    sequence: int
    acknowledged: bool = False


@dataclass(slots=True, eq=False)
class _Session:
    writer: asyncio.StreamWriter
    peer: str
    system_id: str | None = None
    can_receive: bool = False
    seq: Callable[[], int] = field(default_factory=lambda: itertools.count(1).__next__)
    out: P.PduWriter = field(init=False)  # the responses and receipts of one turn of the loop in one write

    def __post_init__(self) -> None:
        self.out = P.PduWriter(self.writer)


class SmscSimulator:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        accounts: dict[str, str] | None = None,
        *,
        dlr_delay: float = 0.1,
        dlr_stat: str = "DELIVRD",
        on_message: Callable[[ReceivedMessage], None] | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.accounts = dict(accounts) if accounts is not None else {"notify": "secret"}
        self.dlr_delay = dlr_delay
        self.dlr_stat = dlr_stat
        self.refuse_binds = False
        self.on_message = on_message
        self.parts: list[ReceivedPart] = []
        self.messages: list[ReceivedMessage] = []
        self.receipts: list[SentReceipt] = []
        self.binds: list[tuple[str, str]] = []  # (system_id, bind command name)
        self.enquire_links = 0
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending: dict[tuple[str, str, int, int], dict[int, ReceivedPart]] = {}
        self._unacknowledged: dict[tuple[str, int], SentReceipt] = {}  # (peer, sequence): no scan per ack
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()

    # ------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._requested_port

    @property
    def url_host_port(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def is_up(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._handle, self.host, self._requested_port)
        self._requested_port = self.port  # keep the same port across go_down()/come_up()
        log.info("SMSC simulator listening on %s:%d", self.host, self.port)

    async def go_down(self) -> None:
        """Stop listening and drop every connection (simulates an SMSC outage)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for session in list(self._sessions):
            session.writer.close()
        for session in list(self._sessions):
            with contextlib.suppress(Exception):
                await session.writer.wait_closed()
        self._sessions.clear()
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        log.info("SMSC simulator down")

    async def come_up(self) -> None:
        await self.start()

    async def stop(self) -> None:
        await self.go_down()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def __aenter__(self) -> SmscSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------ waiting helpers for tests

    async def wait_for(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        """Wait until ``predicate()`` holds (re-checked after every recorded event)."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ------------------------------------------------------------ connection handling

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, session: _Session, pdu: P.Pdu) -> None:
        await session.out.send(pdu)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str(writer.get_extra_info("peername"))
        session = _Session(writer=writer, peer=peer)
        self._sessions.add(session)
        try:
            while True:
                try:
                    req = await P.read_pdu(reader)
                except P.PduError as exc:
                    await self._send(session, P.GenericNack(sequence=exc.sequence, status=exc.status))
                    continue
                if not await self._dispatch(session, req):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._sessions.discard(session)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _dispatch(self, session: _Session, req: P.Pdu) -> bool:
        """Handle one request; False ends the session."""
        if isinstance(req, P.BindTransceiver):  # also BindTransmitter / BindReceiver
            return await self._bind(session, req)
        if isinstance(req, P.EnquireLink):
            self.enquire_links += 1
            await self._send(session, P.EnquireLinkResp(sequence=req.sequence))
            await self._notify()
            return True
        if isinstance(req, P.Unbind):
            await self._send(session, P.UnbindResp(sequence=req.sequence))
            return False
        if req.is_response:  # deliver_sm_resp, enquire_link_resp, ...
            if isinstance(req, P.DeliverSmResp):
                receipt = self._unacknowledged.pop((session.peer, req.sequence), None)
                if receipt is not None:
                    receipt.acknowledged = True
                await self._notify()
            return True
        if session.system_id is None:
            await self._send(
                session, P.RESPONSE_FOR[req.command_id](sequence=req.sequence, status=P.Status.ESME_RINVBNDSTS)
            )
            return True
        if isinstance(req, P.SubmitSm) and not isinstance(req, P.DeliverSm):
            await self._submit(session, req)
            return True
        await self._send(session, P.GenericNack(sequence=req.sequence, status=P.Status.ESME_RINVCMDID))
        return True

    async def _bind(self, session: _Session, req: P.BindTransceiver) -> bool:
        resp_cls = _BIND_RESPONSES[req.command_id]
        status = P.Status.ESME_ROK
        if session.system_id is not None:
            status = P.Status.ESME_RALYBND
        elif self.refuse_binds:
            status = P.Status.ESME_RBINDFAIL
        elif req.system_id not in self.accounts:
            status = P.Status.ESME_RINVSYSID
        elif self.accounts[req.system_id] != req.password:
            status = P.Status.ESME_RINVPASWD
        await self._send(session, resp_cls(sequence=req.sequence, status=status, system_id="SMSCSIM"))
        if status == P.Status.ESME_ROK:
            session.system_id = req.system_id
            session.can_receive = not isinstance(req, P.BindTransmitter)
            self.binds.append((req.system_id, req.command_id.name))
            log.info("bind %s from %s as %s", req.command_id.name, session.peer, req.system_id)
            await self._notify()
        else:
            log.info("bind refused for %r: %s", req.system_id, P.Status(status).name)
        return True

    async def _submit(self, session: _Session, req: P.SubmitSm) -> None:
        if not req.destination_addr:
            await self._send(session, P.SubmitSmResp(sequence=req.sequence, status=P.Status.ESME_RINVDSTADR))
            return
        message_id = f"{next(self._ids):010x}"
        concat, text = decode_part(req.short_message, req.data_coding, req.esm_class)
        now = datetime.now(UTC)
        part = ReceivedPart(
            message_id=message_id,
            system_id=session.system_id or "",
            source=req.source_addr,
            destination=req.destination_addr,
            data_coding=req.data_coding,
            esm_class=req.esm_class,
            registered_delivery=req.registered_delivery,
            payload=req.short_message,
            text=text,
            concat=concat,
            received_at=now,
        )
        self.parts.append(part)
        await self._send(session, P.SubmitSmResp(sequence=req.sequence, message_id=message_id))
        self._collect(part)
        if req.registered_delivery & 0x03 and session.can_receive:
            self._spawn(self._send_receipt(session, part))
        await self._notify()

    def _collect(self, part: ReceivedPart) -> None:
        if part.concat is None or part.concat.total <= 1:
            self._complete([part])
            return
        key = (part.source, part.destination, part.concat.ref, part.concat.total)
        bucket = self._pending.setdefault(key, {})
        bucket[part.concat.seq] = part
        if len(bucket) == part.concat.total:
            del self._pending[key]
            self._complete([bucket[i] for i in sorted(bucket)])

    def _complete(self, parts: list[ReceivedPart]) -> None:
        msg = ReceivedMessage(
            destination=parts[0].destination,
            source=parts[0].source,
            text="".join(p.text for p in parts),
            message_ids=[p.message_id for p in parts],
            parts=len(parts),
            received_at=parts[-1].received_at,
        )
        self.messages.append(msg)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("message to %s (%d part%s): %s", mask_phone(msg.destination), msg.parts,
                      "" if msg.parts == 1 else "s", mask_pii(msg.text))
        if self.on_message is not None:
            self.on_message(msg)

    async def _send_receipt(self, session: _Session, part: ReceivedPart) -> None:
        await asyncio.sleep(self.dlr_delay)
        if session not in self._sessions:
            return
        receipt = P.format_receipt(
            part.message_id,
            part.received_at,
            datetime.now(UTC),
            stat=self.dlr_stat,
            text=_ascii_preview(part.text),
        )
        dlr = P.DeliverSm(
            sequence=session.seq(),
            source_addr=part.destination,
            destination_addr=part.source,
            esm_class=P.ESM_CLASS_DELIVERY_RECEIPT,
            data_coding=0,
            short_message=receipt.encode("utf-8")[:254],
            tlvs={
                _TLV_RECEIPTED_MESSAGE_ID: part.message_id.encode() + b"\x00",
                _TLV_MESSAGE_STATE: bytes((_MESSAGE_STATE_DELIVERED,)),
            },
        )
        sent = SentReceipt(part.message_id, part.destination, self.dlr_stat, session.peer, dlr.sequence)
        self.receipts.append(sent)
        self._unacknowledged[(session.peer, dlr.sequence)] = sent
        try:
            await self._send(session, dlr)
        except ConnectionError:
            self.receipts.remove(sent)
            self._unacknowledged.pop((session.peer, dlr.sequence), None)
            return
        await self._notify()


def _ascii_preview(text: str) -> str:
    """Receipt ``text:`` field: first 20 characters, printable ASCII only (default alphabet safe)."""
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text[:20])


# ------------------------------------------------------------------ in a background thread


class SmscThread:
    """The simulator on its own event loop in a daemon thread (for synchronous test harnesses)."""

    def __init__(self, simulator: SmscSimulator) -> None:
        self.simulator = simulator
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="smsc-simulator", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.simulator.start())
        except (OSError, RuntimeError) as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> SmscThread:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    @property
    def url(self) -> str:
        """``SMPP_URL`` for the first account."""
        system_id, password = next(iter(self.simulator.accounts.items()))
        return f"smpp://{system_id}:{password}@{self.simulator.host}:{self.simulator.port}"

    @property
    def messages(self) -> list[ReceivedMessage]:
        return list(self.simulator.messages)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run e.g. ``sim.go_down()`` on the simulator's loop from another thread."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            self.call(self.simulator.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._loop.is_running():
            self._loop.close()


def start_in_thread(
    host: str = "127.0.0.1",
    port: int = 0,
    accounts: dict[str, str] | None = None,
    *,
    dlr_delay: float = 0.1,
) -> SmscThread:
    return SmscThread(SmscSimulator(host, port, accounts, dlr_delay=dlr_delay)).start()


# ------------------------------------------------------------------ CLI


def _parse_accounts(values: list[str]) -> dict[str, str]:
    accounts: dict[str, str] = {}
    for value in values:
        system_id, sep, password = value.partition(":")
        if not sep:
            raise argparse.ArgumentTypeError(f"--account wants system_id:password, got {value!r}")
        accounts[system_id] = password
    return accounts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="SMPP 3.4 SMSC simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2775)
    parser.add_argument("--account", action="append", default=[], help="system_id:password (repeatable)")
    parser.add_argument("--dlr-delay", type=float, default=0.5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    accounts = _parse_accounts(args.account) if args.account else None

    def show(msg: ReceivedMessage) -> None:
        print(
            f"[{msg.received_at:%H:%M:%S}] to {mask_phone(msg.destination)} "
            f"({msg.parts} part{'s' if msg.parts > 1 else ''}): {mask_pii(msg.text)}",
            flush=True,
        )

    async def run() -> None:
        sim = SmscSimulator(args.host, args.port, accounts, dlr_delay=args.dlr_delay, on_message=show)
        await sim.start()
        print(f"SMSC simulator on {args.host}:{sim.port}, accounts: {sorted(sim.accounts)}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await sim.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
