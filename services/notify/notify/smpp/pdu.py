"""A small SMPP 3.4 PDU codec: the operations the notify service and its SMSC simulator use.

Every PDU is a 16-octet header (command_length, command_id, command_status, sequence_number)
followed by a body of C-octet strings, integers and, for submit_sm / deliver_sm, optional TLVs.
"""

from __future__ import annotations

import asyncio
import re
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import ClassVar

HEADER = struct.Struct(">IIII")
HEADER_LEN = HEADER.size
MAX_PDU_LEN = 64 * 1024
INTERFACE_VERSION_34 = 0x34


class CommandId(IntEnum):
    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015


class Status(IntEnum):
    ESME_ROK = 0x00
    ESME_RINVMSGLEN = 0x01
    ESME_RINVCMDLEN = 0x02
    ESME_RINVCMDID = 0x03
    ESME_RINVBNDSTS = 0x04
    ESME_RALYBND = 0x05
    ESME_RSYSERR = 0x08
    ESME_RBINDFAIL = 0x0D
    ESME_RINVPASWD = 0x0E
    ESME_RINVSYSID = 0x0F
    ESME_RINVDSTADR = 0x0B
    ESME_RSUBMITFAIL = 0x45
    ESME_RTHROTTLED = 0x58
    ESME_RX_T_APPNACK = 0x64  # temporary application error: the SMSC delivers the deliver_sm again


class PduError(ValueError):
    """Malformed PDU; ``status`` is the SMPP error to answer with (generic_nack)."""

    def __init__(self, message: str, status: Status = Status.ESME_RSYSERR, sequence: int = 0):
        super().__init__(message)
        self.status = status
        self.sequence = sequence


# ------------------------------------------------------------------ body readers / writers


def _cstr(value: str, max_len: int) -> bytes:
    raw = value.encode("ascii")
    if len(raw) >= max_len:
        raise PduError(f"C-octet string {value!r} longer than {max_len - 1}")
    return raw + b"\x00"


class _Reader:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.pos = 0

    def cstr(self) -> str:
        end = self.body.find(b"\x00", self.pos)
        if end < 0:
            raise PduError("unterminated C-octet string", Status.ESME_RINVCMDLEN)
        value = self.body[self.pos : end].decode("ascii", errors="replace")
        self.pos = end + 1
        return value

    def u8(self) -> int:
        if self.pos >= len(self.body):
            raise PduError("body too short", Status.ESME_RINVCMDLEN)
        value = self.body[self.pos]
        self.pos += 1
        return value

    def octets(self, n: int) -> bytes:
        if self.pos + n > len(self.body):
            raise PduError("body too short", Status.ESME_RINVCMDLEN)
        value = self.body[self.pos : self.pos + n]
        self.pos += n
        return value

    def tlvs(self) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        while self.pos + 4 <= len(self.body):
            tag, length = struct.unpack_from(">HH", self.body, self.pos)
            self.pos += 4
            out[tag] = self.octets(length)
        return out

    @property
    def remaining(self) -> int:
        return len(self.body) - self.pos


def _encode_tlvs(tlvs: dict[int, bytes]) -> bytes:
    return b"".join(struct.pack(">HH", tag, len(v)) + v for tag, v in tlvs.items())


# ------------------------------------------------------------------ PDUs


@dataclass(kw_only=True)
class Pdu:
    command_id: ClassVar[CommandId]
    sequence: int = 0
    status: int = Status.ESME_ROK

    def body(self) -> bytes:
        return b""

    @classmethod
    def parse_body(cls, r: _Reader, sequence: int, status: int) -> Pdu:
        return cls(sequence=sequence, status=status)

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & 0x80000000)


@dataclass(kw_only=True)
class GenericNack(Pdu):
    command_id: ClassVar[CommandId] = CommandId.GENERIC_NACK


@dataclass(kw_only=True)
class BindTransceiver(Pdu):
    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSCEIVER
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    interface_version: int = INTERFACE_VERSION_34
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""

    def body(self) -> bytes:
        return (
            _cstr(self.system_id, 16)
            + _cstr(self.password, 9)
            + _cstr(self.system_type, 13)
            + bytes((self.interface_version, self.addr_ton, self.addr_npi))
            + _cstr(self.address_range, 41)
        )

    @classmethod
    def parse_body(cls, r: _Reader, sequence: int, status: int) -> Pdu:
        return cls(
            sequence=sequence,
            status=status,
            system_id=r.cstr(),
            password=r.cstr(),
            system_type=r.cstr(),
            interface_version=r.u8(),
            addr_ton=r.u8(),
            addr_npi=r.u8(),
            address_range=r.cstr(),
        )


@dataclass(kw_only=True)
class BindTransmitter(BindTransceiver):
    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSMITTER


@dataclass(kw_only=True)
class BindReceiver(BindTransceiver):
    command_id: ClassVar[CommandId] = CommandId.BIND_RECEIVER


@dataclass(kw_only=True)
class BindTransceiverResp(Pdu):
    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSCEIVER_RESP
    system_id: str = ""

    def body(self) -> bytes:
        # On error the body may be omitted (SMPP 3.4 §4.1.2).
        return _cstr(self.system_id, 16) if self.status == Status.ESME_ROK else b""

    @classmethod
    def parse_body(cls, r: _Reader, sequence: int, status: int) -> Pdu:
        system_id = r.cstr() if r.remaining else ""
        return cls(sequence=sequence, status=status, system_id=system_id)


@dataclass(kw_only=True)
class BindTransmitterResp(BindTransceiverResp):
    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSMITTER_RESP


@dataclass(kw_only=True)
class BindReceiverResp(BindTransceiverResp):
    command_id: ClassVar[CommandId] = CommandId.BIND_RECEIVER_RESP


@dataclass(kw_only=True)
class Unbind(Pdu):
    command_id: ClassVar[CommandId] = CommandId.UNBIND


@dataclass(kw_only=True)
class UnbindResp(Pdu):
    command_id: ClassVar[CommandId] = CommandId.UNBIND_RESP


@dataclass(kw_only=True)
class EnquireLink(Pdu):
    command_id: ClassVar[CommandId] = CommandId.ENQUIRE_LINK


@dataclass(kw_only=True)
class EnquireLinkResp(Pdu):
    command_id: ClassVar[CommandId] = CommandId.ENQUIRE_LINK_RESP


@dataclass(kw_only=True)
class SubmitSm(Pdu):
    """submit_sm; deliver_sm has the same body."""

    command_id: ClassVar[CommandId] = CommandId.SUBMIT_SM
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 1
    dest_addr_npi: int = 1
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: dict[int, bytes] = field(default_factory=dict)

    def body(self) -> bytes:
        if len(self.short_message) > 254:
            raise PduError("short_message longer than 254 octets", Status.ESME_RINVMSGLEN)
        return (
            _cstr(self.service_type, 6)
            + bytes((self.source_addr_ton, self.source_addr_npi))
            + _cstr(self.source_addr, 21)
            + bytes((self.dest_addr_ton, self.dest_addr_npi))
            + _cstr(self.destination_addr, 21)
            + bytes((self.esm_class, self.protocol_id, self.priority_flag))
            + _cstr(self.schedule_delivery_time, 17)
            + _cstr(self.validity_period, 17)
            + bytes(
                (
                    self.registered_delivery,
                    self.replace_if_present_flag,
                    self.data_coding,
                    self.sm_default_msg_id,
                    len(self.short_message),
                )
            )
            + self.short_message
            + _encode_tlvs(self.tlvs)
        )

    @classmethod
    def parse_body(cls, r: _Reader, sequence: int, status: int) -> Pdu:
        pdu = cls(
            sequence=sequence,
            status=status,
            service_type=r.cstr(),
            source_addr_ton=r.u8(),
            source_addr_npi=r.u8(),
            source_addr=r.cstr(),
            dest_addr_ton=r.u8(),
            dest_addr_npi=r.u8(),
            destination_addr=r.cstr(),
            esm_class=r.u8(),
            protocol_id=r.u8(),
            priority_flag=r.u8(),
            schedule_delivery_time=r.cstr(),
            validity_period=r.cstr(),
            registered_delivery=r.u8(),
            replace_if_present_flag=r.u8(),
            data_coding=r.u8(),
            sm_default_msg_id=r.u8(),
        )
        pdu.short_message = r.octets(r.u8())
        pdu.tlvs = r.tlvs()
        return pdu


ESM_CLASS_DELIVERY_RECEIPT = 0x04


@dataclass(kw_only=True)
class DeliverSm(SubmitSm):
    command_id: ClassVar[CommandId] = CommandId.DELIVER_SM

    @property
    def is_receipt(self) -> bool:
        return (self.esm_class & 0x3C) == ESM_CLASS_DELIVERY_RECEIPT


@dataclass(kw_only=True)
class SubmitSmResp(Pdu):
    command_id: ClassVar[CommandId] = CommandId.SUBMIT_SM_RESP
    message_id: str = ""

    def body(self) -> bytes:
        return _cstr(self.message_id, 66) if self.status == Status.ESME_ROK else b""

    @classmethod
    def parse_body(cls, r: _Reader, sequence: int, status: int) -> Pdu:
        message_id = r.cstr() if r.remaining else ""
        return cls(sequence=sequence, status=status, message_id=message_id)


@dataclass(kw_only=True)
class DeliverSmResp(SubmitSmResp):
    command_id: ClassVar[CommandId] = CommandId.DELIVER_SM_RESP

    def body(self) -> bytes:
        return _cstr(self.message_id, 66)


PDU_TYPES: dict[int, type[Pdu]] = {
    cls.command_id: cls
    for cls in (
        GenericNack,
        BindTransceiver,
        BindTransmitter,
        BindReceiver,
        BindTransceiverResp,
        BindTransmitterResp,
        BindReceiverResp,
        Unbind,
        UnbindResp,
        EnquireLink,
        EnquireLinkResp,
        SubmitSm,
        SubmitSmResp,
        DeliverSm,
        DeliverSmResp,
    )
}

RESPONSE_FOR: dict[CommandId, type[Pdu]] = {
    CommandId.BIND_TRANSCEIVER: BindTransceiverResp,
    CommandId.BIND_TRANSMITTER: BindTransmitterResp,
    CommandId.BIND_RECEIVER: BindReceiverResp,
    CommandId.UNBIND: UnbindResp,
    CommandId.ENQUIRE_LINK: EnquireLinkResp,
    CommandId.SUBMIT_SM: SubmitSmResp,
    CommandId.DELIVER_SM: DeliverSmResp,
}


def encode(pdu: Pdu) -> bytes:
    body = pdu.body()
    return HEADER.pack(HEADER_LEN + len(body), pdu.command_id, pdu.status, pdu.sequence) + body


def decode(data: bytes) -> Pdu:
    """Decode one complete PDU. Raises :class:`PduError` (carrying the sequence) when malformed."""
    if len(data) < HEADER_LEN:
        raise PduError("PDU shorter than its header", Status.ESME_RINVCMDLEN)
    length, command_id, status, sequence = HEADER.unpack_from(data)
    if length != len(data):
        raise PduError("command_length mismatch", Status.ESME_RINVCMDLEN, sequence)
    cls = PDU_TYPES.get(command_id)
    if cls is None:
        raise PduError(f"unknown command_id 0x{command_id:08x}", Status.ESME_RINVCMDID, sequence)
    try:
        return cls.parse_body(_Reader(data[HEADER_LEN:]), sequence, status)
    except PduError as exc:
        exc.sequence = sequence
        raise


async def read_pdu(reader: asyncio.StreamReader) -> Pdu:
    """Read exactly one PDU from a stream. ``IncompleteReadError`` at EOF."""
    header = await reader.readexactly(HEADER_LEN)
    (length,) = struct.unpack_from(">I", header)
    if not HEADER_LEN <= length <= MAX_PDU_LEN:
        raise PduError(f"implausible command_length {length}", Status.ESME_RINVCMDLEN)
    body = await reader.readexactly(length - HEADER_LEN)
    return decode(header + body)


class PduWriter:
    """The PDUs written during one turn of the event loop go out in one `write` (one send(2)): a window of
    concurrent submit_sm, a run of responses, the deliver_sm_resp of a group of stored receipts; one system
    call and one wake-up of the peer instead of one per PDU. Order is kept; nothing waits longer than the
    current turn of the loop. PDUs queued when the stream is already closing are dropped (as a write on a
    closed transport is)."""

    __slots__ = ("_queued", "writer")

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self._queued: list[bytes] = []

    def write(self, pdu: Pdu) -> None:
        if not self._queued:
            asyncio.get_running_loop().call_soon(self.flush)
        self._queued.append(encode(pdu))

    def flush(self) -> None:
        queued, self._queued = self._queued, []
        if queued and not self.writer.is_closing():
            self.writer.write(queued[0] if len(queued) == 1 else b"".join(queued))

    async def send(self, pdu: Pdu) -> None:
        """Queue `pdu`, then wait while the transport's buffer is full (flow control, as `drain`)."""
        self.write(pdu)
        await self.writer.drain()


# ------------------------------------------------------------------ delivery receipts


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    message_id: str
    sub: int
    dlvrd: int
    submit_date: datetime | None
    done_date: datetime | None
    stat: str
    err: str
    text: str

    @property
    def delivered(self) -> bool:
        return self.stat == "DELIVRD"


def _receipt_date(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%y%m%d%H%M")


def format_receipt(
    message_id: str,
    submit_date: datetime,
    done_date: datetime,
    stat: str = "DELIVRD",
    err: int = 0,
    text: str = "",
    sub: int = 1,
    dlvrd: int = 1,
) -> str:
    """SMPP 3.4 Appendix B receipt text (dates in UTC, YYMMDDhhmm)."""
    return (
        f"id:{message_id} sub:{sub:03d} dlvrd:{dlvrd:03d} "
        f"submit date:{_receipt_date(submit_date)} done date:{_receipt_date(done_date)} "
        f"stat:{stat} err:{err:03d} text:{text[:20]}"
    )


_RECEIPT = re.compile(
    r"id:(?P<id>\S+)\s+sub:(?P<sub>\d+)\s+dlvrd:(?P<dlvrd>\d+)\s+"
    r"submit date:(?P<submit>\d{10,12})\s+done date:(?P<done>\d{10,12})\s+"
    r"stat:(?P<stat>\w+)\s+err:(?P<err>\w+)(?:\s+text:(?P<text>.*))?",
    re.IGNORECASE | re.DOTALL,
)


def _parse_date(value: str) -> datetime | None:
    """YYMMDDhhmm[ss] (UTC; years 2000-2099, as strptime's %y reads 00-68), None when not a date. By slices:
    strptime was a visible share of a receipt's CPU."""
    if len(value) not in (10, 12) or not value.isascii() or not value.isdigit():
        return None
    yy, mo, dd, hh, mi = (int(value[i:i + 2]) for i in range(0, 10, 2))
    try:
        return datetime(2000 + yy if yy < 69 else 1900 + yy, mo, dd, hh, mi, int(value[10:12] or 0), tzinfo=UTC)
    except ValueError:
        return None


def parse_receipt(text: str) -> DeliveryReceipt:
    m = _RECEIPT.search(text)
    if m is None:
        raise ValueError(f"not a delivery receipt: {text[:60]!r}")
    return DeliveryReceipt(
        message_id=m["id"],
        sub=int(m["sub"]),
        dlvrd=int(m["dlvrd"]),
        submit_date=_parse_date(m["submit"]),
        done_date=_parse_date(m["done"]),
        stat=m["stat"].upper(),
        err=m["err"],
        text=m["text"] or "",
    )
