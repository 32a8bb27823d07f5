from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from notify.smpp import pdu as P


@pytest.mark.parametrize(
    "pdu",
    [
        P.BindTransceiver(sequence=1, system_id="notify", password="secret"),
        P.BindTransmitter(sequence=2, system_id="notify", password="secret", system_type="SLA"),
        P.BindTransceiverResp(sequence=1, system_id="SMSC"),
        P.BindTransmitterResp(sequence=2, status=P.Status.ESME_RINVPASWD),
        P.Unbind(sequence=3),
        P.UnbindResp(sequence=3),
        P.EnquireLink(sequence=4),
        P.EnquireLinkResp(sequence=4),
        P.SubmitSm(
            sequence=5,
            source_addr="10658000",
            destination_addr="13800000000",
            esm_class=0x40,
            registered_delivery=1,
            data_coding=8,
            short_message=bytes.fromhex("0500030102015de54e55"),
        ),
        P.SubmitSmResp(sequence=5, message_id="000000002a"),
        P.DeliverSm(sequence=6, esm_class=4, short_message=b"id:1 sub:001", tlvs={0x001E: b"1\x00"}),
        P.DeliverSmResp(sequence=6),
        P.GenericNack(sequence=7, status=P.Status.ESME_RINVCMDID),
    ],
)
def test_roundtrip(pdu: P.Pdu) -> None:
    raw = P.encode(pdu)
    assert int.from_bytes(raw[:4], "big") == len(raw)
    assert P.decode(raw) == pdu


def test_known_bytes_enquire_link() -> None:
    assert P.encode(P.EnquireLink(sequence=1)).hex() == "00000010000000150000000000000001"


def test_malformed() -> None:
    with pytest.raises(P.PduError) as err:
        P.decode(P.HEADER.pack(16, 0x77, 0, 9))
    assert err.value.status == P.Status.ESME_RINVCMDID and err.value.sequence == 9
    with pytest.raises(P.PduError):
        P.decode(P.HEADER.pack(20, P.CommandId.SUBMIT_SM, 0, 1) + b"ab")
    with pytest.raises(P.PduError):
        P.encode(P.SubmitSm(short_message=b"x" * 255))


def test_receipt_format_and_parse() -> None:
    t0 = datetime(2024, 6, 11, 2, 30, tzinfo=UTC)
    t1 = datetime(2024, 6, 11, 2, 31, tzinfo=UTC)
    text = P.format_receipt("00000000ab", t0, t1, text="hello world")
    assert text == (
        "id:00000000ab sub:001 dlvrd:001 submit date:2406110230 done date:2406110231 "
        "stat:DELIVRD err:000 text:hello world"
    )
    r = P.parse_receipt(text)
    assert (r.message_id, r.stat, r.err, r.submit_date, r.done_date, r.delivered) == (
        "00000000ab",
        "DELIVRD",
        "000",
        t0,
        t1,
        True,
    )
    assert not P.parse_receipt(text.replace("DELIVRD", "UNDELIV")).delivered
    with pytest.raises(ValueError):
        P.parse_receipt("hello")


@pytest.mark.parametrize("value", ["2612020553", "261202055307", "0001010000", "6912312359", "9912312359",
                                   "2602300000", "2613010000", "261202", "26120205531", "26x2020553",
                                   "２６１２０２０５５３", "2612022460", ""])
def test_receipt_dates_read_as_strptime_reads_them(value: str) -> None:
    fmt = "%y%m%d%H%M%S" if len(value) == 12 else "%y%m%d%H%M"
    try:
        parsed = datetime.strptime(value, fmt) if len(value) in (10, 12) else None
        expected = parsed.replace(tzinfo=UTC) if parsed is not None else None
    except ValueError:
        expected = None
    assert P._parse_date(value) == expected


class _Writes:
    """What a StreamWriter was asked to write (the PduWriter's side of it)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closing

    async def drain(self) -> None:
        return None


async def test_the_pdus_of_one_turn_of_the_loop_go_out_in_one_write_in_order() -> None:

    stream = _Writes()
    out = P.PduWriter(stream)  # type: ignore[arg-type]
    pdus = [P.EnquireLink(sequence=i) for i in range(1, 6)]
    await asyncio.gather(*(out.send(pdu) for pdu in pdus))  # five senders in the same turn
    await asyncio.sleep(0)
    assert stream.writes == [b"".join(P.encode(p) for p in pdus)]
    out.write(P.EnquireLinkResp(sequence=9))  # a later turn: a write of its own
    await asyncio.sleep(0)
    assert stream.writes[1:] == [P.encode(P.EnquireLinkResp(sequence=9))]
    stream.closing = True  # queued on a closing stream: dropped, as a closed transport drops it
    out.write(P.EnquireLink(sequence=10))
    await asyncio.sleep(0)
    assert len(stream.writes) == 2
