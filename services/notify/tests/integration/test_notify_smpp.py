"""SMPP integration: a real SMSC simulator on a free loopback port and the service's client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from devtools.smsc import SmscSimulator
from notify.domain.sms import SmsEncoding, segment
from notify.smpp import pdu as P
from notify.smpp.client import DeliveryReport, SmppBindError, SmppClient, SmppUnavailable

pytestmark = [pytest.mark.timeout(30)]  # asyncio_mode = "auto" (root pyproject)

LONG_ZH = (
    "【SLA超时】工单 T-20240611-0042（天津港集团 VPMN 开通）在“数据制作”环节已超时 35 分钟，"
    "处理人：王磊。请立即处理并在系统中反馈进展；如需协调资源请联系客户经理张伟。"
    "本短信由集团客户端到端电子工单系统自动发送，请勿回复。如有疑问请致电网络部值班电话，"
    "或登录系统查看工单详情与处理记录。😀"
)


@pytest_asyncio.fixture
async def smsc() -> AsyncIterator[SmscSimulator]:
    sim = SmscSimulator("127.0.0.1", 0, {"notify": "secret"}, dlr_delay=0.05)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def url(sim: SmscSimulator, password: str = "secret", extra: str = "") -> str:
    return f"smpp://notify:{password}@127.0.0.1:{sim.port}{extra}"


async def test_long_chinese_sms_is_reassembled_and_dlr_recorded(smsc: SmscSimulator) -> None:
    dlrs: list[DeliveryReport] = []
    message = segment(LONG_ZH, ref=42)
    assert message.encoding is SmsEncoding.UCS2 and len(message.parts) == 3

    async with SmppClient(url(smsc), on_dlr=dlrs.append) as client:
        ids = await client.submit("13812345678", message)
        assert len(ids) == 3 and len(set(ids)) == 3
        await smsc.wait_for(lambda: len(smsc.messages) == 1)
        received = smsc.messages[0]
        assert received.text == LONG_ZH
        assert received.parts == 3
        assert received.destination == "13812345678"
        assert received.message_ids == ids
        assert all(p.esm_class & 0x40 and p.data_coding == 8 for p in smsc.parts)
        assert [p.concat.seq for p in smsc.parts if p.concat] == [1, 2, 3]
        await smsc.wait_for(lambda: sum(r.acknowledged for r in smsc.receipts) == 3)
        for _ in range(50):
            if len(dlrs) == 3:
                break
            await asyncio.sleep(0.02)
    assert sorted(d.message_id for d in dlrs) == sorted(ids)
    assert all(d.delivered and d.msisdn == "13812345678" for d in dlrs)
    assert smsc.binds == [("notify", "BIND_TRANSCEIVER")]


async def test_async_dlr_callback_and_short_gsm_message(smsc: SmscSimulator) -> None:
    seen: asyncio.Queue[DeliveryReport] = asyncio.Queue()

    async def on_dlr(report: DeliveryReport) -> None:
        await seen.put(report)

    async with SmppClient(url(smsc), on_dlr=on_dlr) as client:
        [message_id] = await client.send_text("13900001111", "SLA warning: ticket T-1 due 10:30")
        report = await asyncio.wait_for(seen.get(), 5)
    assert report.message_id == message_id
    assert smsc.parts[0].data_coding == 0 and smsc.parts[0].esm_class == 0
    assert smsc.messages[0].text == "SLA warning: ticket T-1 due 10:30"


async def test_transmitter_bind_gets_no_dlr(smsc: SmscSimulator) -> None:
    dlrs: list[DeliveryReport] = []
    async with SmppClient(url(smsc, extra="?bind=transmitter"), on_dlr=dlrs.append) as client:
        await client.send_text("13900001111", "hello")
        await asyncio.sleep(0.2)
    assert smsc.binds == [("notify", "BIND_TRANSMITTER")]
    assert dlrs == [] and smsc.receipts == []


async def test_wrong_password_is_refused(smsc: SmscSimulator) -> None:
    client = SmppClient(url(smsc, password="wrong"))
    with pytest.raises(SmppBindError) as err:
        await client.connect()
    assert err.value.status == P.Status.ESME_RINVPASWD
    await client.close()


async def test_enquire_link_keepalive(smsc: SmscSimulator) -> None:
    async with SmppClient(url(smsc), enquire_link_interval=0.05):
        await smsc.wait_for(lambda: smsc.enquire_links >= 3)


async def test_reconnects_after_smsc_outage_and_delivers(smsc: SmscSimulator) -> None:
    dlrs: list[DeliveryReport] = []
    client = SmppClient(url(smsc), on_dlr=dlrs.append, reconnect_min=0.05, reconnect_max=0.2)
    await client.connect()
    try:
        await client.send_text("13812345678", "before outage")
        await smsc.go_down()
        for _ in range(100):
            if not client.bound:
                break
            await asyncio.sleep(0.01)
        assert not client.bound
        # submitted while the SMSC is down: waits for the reconnect, then delivers
        pending = asyncio.create_task(client.send_text("13812345678", LONG_ZH))
        await asyncio.sleep(0.3)
        assert not pending.done()
        await smsc.come_up()
        ids = await asyncio.wait_for(pending, 10)
        assert len(ids) == 3
        await smsc.wait_for(lambda: any(m.text == LONG_ZH for m in smsc.messages))
        await smsc.wait_for(lambda: set(ids) <= {r.message_id for r in smsc.receipts})
        for _ in range(50):
            if set(ids) <= {d.message_id for d in dlrs}:
                break
            await asyncio.sleep(0.02)
        assert set(ids) <= {d.message_id for d in dlrs}
        assert client.reconnects >= 1
        assert len(smsc.binds) == 2
    finally:
        await client.close()


async def test_refused_binds_are_retried_until_accepted(smsc: SmscSimulator) -> None:
    client = SmppClient(url(smsc), reconnect_min=0.05, reconnect_max=0.1)
    await client.connect()
    try:
        smsc.refuse_binds = True
        await smsc.go_down()
        await smsc.come_up()
        await asyncio.sleep(0.3)
        assert not client.bound
        smsc.refuse_binds = False
        await client.send_text("13800000000", "ok again")
        assert smsc.messages[-1].text == "ok again"
    finally:
        await client.close()


async def test_submit_times_out_when_smsc_stays_down(smsc: SmscSimulator) -> None:
    client = SmppClient(url(smsc), submit_timeout=0.3, reconnect_min=0.05)
    await client.connect()
    try:
        await smsc.go_down()
        with pytest.raises(SmppUnavailable):
            await client.send_text("13800000000", "nobody home")
    finally:
        await client.close()


async def test_simulator_rejects_unbound_submit_and_garbage(smsc: SmscSimulator) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", smsc.port)
    try:
        writer.write(P.encode(P.SubmitSm(sequence=7, destination_addr="13800000000")))
        resp = await P.read_pdu(reader)
        assert isinstance(resp, P.SubmitSmResp) and resp.status == P.Status.ESME_RINVBNDSTS
        writer.write(P.HEADER.pack(16, 0x00000099, 0, 8))
        nack = await P.read_pdu(reader)
        assert isinstance(nack, P.GenericNack) and nack.status == P.Status.ESME_RINVCMDID
        assert nack.sequence == 8
    finally:
        writer.close()


def test_simulator_in_a_thread_for_sync_harnesses() -> None:
    from devtools.smsc import start_in_thread

    smsc = start_in_thread()
    try:
        assert smsc.url.startswith("smpp://notify:secret@127.0.0.1:")

        async def send() -> list[str]:
            async with SmppClient(smsc.url) as client:
                return await client.send_text("13800000000", "from another loop")

        ids = asyncio.run(send())
        assert len(ids) == 1
        assert smsc.messages[0].text == "from another loop"
        smsc.call(smsc.simulator.go_down())
        assert not smsc.simulator.is_up
    finally:
        smsc.stop()
