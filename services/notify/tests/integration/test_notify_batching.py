"""The storm-speed sending parts against real servers: the windowed SMPP client on the SMSC simulator,
the pooled SMTP sessions on aiosmtpd, and the grouped `sent` / receipt commits on PostgreSQL (the
notify schema of the test database; rows with ids of their own)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone.db import make_engine, make_session_factory
from backbone.envelope import Envelope
from backbone.events import SlaBreached
from backbone.workers import Backoff
from devtools.infra import free_port
from devtools.smsc import SmscSimulator
from devtools.smtp import LeanSmtpServer, SmtpServer, _subject
from notify.channels.base import PermanentSendError, Sent
from notify.channels.email import SmtpSender
from notify.channels.smtp_session import SmtpReplyError
from notify.dispatch.outcomes import Outcomes
from notify.dispatch.receipts import Receipts
from notify.domain.templates import load_templates
from notify.models import deliveries, metadata, sms_parts
from notify.services.alert_runs import queue_alert_run
from notify.services.deliveries import queue_alert_messages
from notify.services.directory import validate_directory
from notify.settings import NotifySettings
from notify.smpp.client import DeliveryReport, SmppClient

pytestmark = [pytest.mark.timeout(60)]


async def test_one_bind_carries_many_submits_at_once_each_matched_by_sequence_number() -> None:
    sim = SmscSimulator("127.0.0.1", 0, {"notify": "secret"}, dlr_delay=0.01)
    await sim.start()
    dlrs: list[DeliveryReport] = []
    try:
        async with SmppClient(f"smpp://notify:secret@127.0.0.1:{sim.port}", on_dlr=dlrs.append, window=16) as client:
            release = asyncio.Event()
            answer = sim._submit

            async def held(session: Any, req: Any) -> None:  # the SMSC answers nothing until released
                await release.wait()
                await answer(session, req)

            sim._submit = held  # type: ignore[method-assign]
            numbers = [f"1390000{i:04d}" for i in range(40)]
            tasks = [asyncio.create_task(client.send_text(n, f"message {i}")) for i, n in enumerate(numbers)]
            for _ in range(500):
                if client.outstanding == 40:
                    break
                await asyncio.sleep(0.01)
            # every caller is in flight at once (16 on the wire, the rest waiting for a window slot)
            assert client.outstanding == 40 and not any(t.done() for t in tasks)
            release.set()
            ids = await asyncio.gather(*tasks)
            assert client.outstanding == 0
            assert len({i for (i,) in ids}) == 40
            by_id = {p.message_id: p for p in sim.parts}
            # each answer went back to its own caller: the id names the part that went to that number
            assert all(by_id[i].destination == n and by_id[i].text == f"message {k}"
                       for k, ((i,), n) in enumerate(zip(ids, numbers, strict=True)))
            assert len(sim.binds) == 1
            await sim.wait_for(lambda: sum(r.acknowledged for r in sim.receipts) == 40)
            assert sorted(d.message_id for d in dlrs) == sorted(i for (i,) in ids)
    finally:
        await sim.stop()


async def test_pooled_smtp_sessions_send_many_messages_each_and_never_more_sessions_than_the_pool() -> None:
    server = SmtpServer(port=free_port(), echo=False).start()
    sender = SmtpSender(server.url, "sla@groupsuite.example", connections=3)
    try:
        ids = await asyncio.gather(*(
            sender.send(to=f"p{i}@example.com", subject=f"告警 {i} — breach", text=f"正文 {i}\nline 2",
                        html=f"<p>html {i}</p>", delivery_id=f"dlv_pool_{i}")
            for i in range(30)))
        assert ids == [f"<dlv_pool_{i}@groupsuite.example>" for i in range(30)]
        mails = {m.headers["X-Delivery-Id"]: m for m in server.handler.messages}
        assert len(mails) == 30
        m = mails["dlv_pool_7"]
        assert m.subject == "告警 7 — breach" and m.text == "正文 7\nline 2" and m.html == "<p>html 7</p>"
        assert m.rcpt_tos == ["p7@example.com"] and m.headers["Message-ID"] == "<dlv_pool_7@groupsuite.example>"
        assert sender._idle.qsize() <= 3  # the pool's sessions, reused (30 messages, at most 3 connections)
    finally:
        await sender.close()
        server.stop()


# ------------------------------------------------------------------ grouped commits on PostgreSQL


@pytest_asyncio.fixture(loop_scope="session")
async def sessions(infra: Any) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(infra.database_url, pool_size=4, schema="notify")
    yield make_session_factory(engine, outbox=metadata.tables["notify.outbox"], source="notify")
    await engine.dispose()


def _row(did: str, channel: str = "sms", status: str = "sending", parts: int = 1) -> dict[str, Any]:
    return {"id": did, "source_event_id": f"ev-{did}", "source_event_type": "sla.breached", "ticket_id": f"T-{did}",
            "recipient_id": "nt-batch", "channel": channel, "address": "13900000000", "body": "x",
            "status": status, "attempts": 1, "claimed_by": "ins_test", "meta": {"parts": parts}}


async def _statuses(sf: async_sessionmaker[AsyncSession], ids: list[str]) -> dict[str, str]:
    async with sf() as session:
        rows = await session.execute(select(deliveries.c.id, deliveries.c.status).where(deliveries.c.id.in_(ids)))
        return {r.id: r.status for r in rows}


async def _events(sf: async_sessionmaker[AsyncSession], ids: list[str]) -> list[tuple[str, str, str]]:
    """(delivery id, status, topic) of each event the outbox holds for these deliveries."""
    outbox = metadata.tables["notify.outbox"]
    async with sf() as session:
        rows = (await session.execute(select(outbox.c.key, outbox.c.topic, outbox.c.payload)
                                      .where(outbox.c.key.in_(ids)))).all()
    return sorted((key, Envelope.model_validate_json(payload).data["status"], topic) for key, topic, payload in rows)


async def test_sent_outcomes_ready_together_commit_in_one_group(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    run = uuid.uuid4().hex[:8]
    ids = [f"dlv_g{run}_{i}" for i in range(4)]
    rows = [_row(ids[0]), _row(ids[1]), _row(ids[2], status="delivered"), _row(ids[3])]
    async with sessions() as session, session.begin():
        await session.execute(insert(deliveries), rows)
    outcomes = Outcomes(sessions, max_attempts=3, backoff=Backoff(initial_s=1, max_s=1))
    groups: list[int] = []
    commit = outcomes._commit_sent

    async def counting(group: list[tuple[Any, Sent]]) -> None:
        groups.append(len(group))
        await commit(group)

    outcomes._commit_sent = counting  # type: ignore[method-assign]
    await asyncio.gather(*(outcomes.sent(r, Sent(f"smsc-{r['id']}", "s", last_part=(1, f"m-{r['id']}")))
                           for r in rows))
    assert groups == [4]  # ready at the same moment: one transaction
    # a receipt had already made row 2 `delivered`: it stays so, and only rows still `sending` emit `sent`
    assert await _statuses(sessions, ids) == {ids[0]: "sent", ids[1]: "sent", ids[2]: "delivered", ids[3]: "sent"}
    async with sessions() as session:
        parts = (await session.execute(select(sms_parts.c.delivery_id).where(sms_parts.c.delivery_id.in_(ids)))).all()
    assert len(parts) == 4
    assert await _events(sessions, ids) == sorted((i, "sent", "notify.deliveries") for i in (ids[0], ids[1], ids[3]))


async def test_receipts_of_one_group_deliver_fail_and_wait_for_unknown_parts(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    run = uuid.uuid4().hex[:8]
    two, one, bad, gone = (f"dlv_r{run}_{k}" for k in ("two", "one", "bad", "gone"))
    async with sessions() as session, session.begin():
        await session.execute(insert(deliveries), [_row(two, status="sent", parts=2), _row(one, status="sent"),
                                                    _row(bad, status="sent"), _row(gone, status="failed")])
        await session.execute(insert(sms_parts), [
            {"delivery_id": two, "part_no": 1, "message_id": f"{run}-2a"},
            {"delivery_id": two, "part_no": 2, "message_id": f"{run}-2b"},
            {"delivery_id": one, "part_no": 1, "message_id": f"{run}-1"},
            {"delivery_id": bad, "part_no": 1, "message_id": f"{run}-x"},
            {"delivery_id": gone, "part_no": 1, "message_id": f"{run}-g"},
        ])

    def report(mid: str, stat: str = "DELIVRD") -> DeliveryReport:
        return DeliveryReport(mid, "13900000000", stat, "000" if stat == "DELIVRD" else "005", None, None, "raw")

    receipts = Receipts(sessions)
    known = await receipts.apply_group([report(f"{run}-2a"), report(f"{run}-1"), report(f"{run}-x", "UNDELIV"),
                                        report(f"{run}-g"), report(f"{run}-unknown")])
    assert known == {f"{run}-2a", f"{run}-1", f"{run}-x", f"{run}-g"}  # the unknown one is tried again later
    ids = [two, one, bad, gone]
    assert await _statuses(sessions, ids) == {two: "sent", one: "delivered", bad: "failed", gone: "failed"}
    found = await receipts.apply(report(f"{run}-2b"))  # the second part: now every part is DELIVRD
    assert found and (await _statuses(sessions, [two]))[two] == "delivered"
    assert not await receipts.apply(report(f"{run}-never"))
    async with sessions() as session:
        query = select(sms_parts.c.message_id, sms_parts.c.dlr_stat).where(sms_parts.c.delivery_id.in_(ids))
        stats: dict[str, str] = {mid: stat for mid, stat in await session.execute(query)}
    assert stats == {f"{run}-2a": "DELIVRD", f"{run}-2b": "DELIVRD", f"{run}-1": "DELIVRD",
                     f"{run}-x": "UNDELIV", f"{run}-g": "DELIVRD"}
    assert await _events(sessions, ids) == sorted([
        (two, "delivered", "notify.deliveries"), (one, "delivered", "notify.deliveries"),
        (bad, "failed", "notify.deliveries"), (bad, "failed", "notify.deliveries.dlq")])


# ------------------------------------------------------------------ the set-based run of alerts


def _breach(ticket: str, assignee: str, tier: str) -> Envelope:
    return Envelope.wrap(SlaBreached(
        timer_id=f"tmr-{ticket}", ticket_id=ticket, ticket_kind="service_opening", business_type="vpmn.opening",
        node="nt_node", role="nt_role", assignee=assignee, customer_id="nt-nocust", customer_name="Customer",
        customer_tier=tier, account_manager_id="nt-nobody", deadline=datetime.now(UTC) - timedelta(minutes=5),
        policy_version="t1", lateness_seconds=300,
    ), source="sla", subject=ticket)


async def _decided(sf: async_sessionmaker[AsyncSession], person: str) -> list[tuple[str, str, str]]:
    """(ticket, channel, status) of a person's deliveries, in decision order."""
    async with sf() as session:
        rows = await session.execute(
            select(deliveries.c.ticket_id, deliveries.c.channel, deliveries.c.status)
            .where(deliveries.c.recipient_id == person)
            .order_by(deliveries.c.next_attempt_at.nulls_last(), deliveries.c.created_at, deliveries.c.ticket_id,
                      deliveries.c.channel))
        return [(t.rpartition("-")[2], c, s) for t, c, s in rows]


async def test_a_run_of_alerts_set_based_decides_what_event_by_event_decides(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    run = uuid.uuid4().hex[:8]
    a, b = f"nt-run-{run}-a", f"nt-run-{run}-b"
    directory = validate_directory({
        "departments": [{"id": "nt-field", "name": "NT"}],
        "people": [{"id": p, "name": p, "roles": ["nt_role"], "department": "nt-field", "phone": f"1390000{i:04d}",
                    "email": f"{p}@nt.example.com", "language": "en"} for i, p in enumerate((a, b))],
    })
    templates = load_templates(max_sms_parts=3)
    settings = NotifySettings(environment="test", digest_threshold=2, digest_window_s=600, rate_limit=50,
                              dedup_window_s=600)
    tickets = [(f"T-{run}-{k}", tier) for k, tier in (("1", "B"), ("2", "B"), ("3", "B"), ("4", "A"), ("5", "B"))]
    # the same alerts: person a's as one run, person b's one by one
    async with sessions() as session, session.begin():
        queued = await queue_alert_run(session, events=[_breach(t, a, tier) for t, tier in tickets],
                                       directory=directory, templates=templates, settings=settings)
    one_by_one = 0
    for t, tier in tickets:
        async with sessions() as session, session.begin():
            one_by_one += await queue_alert_messages(session, event=_breach(t, b, tier), directory=directory,
                                                     templates=templates, settings=settings)
    set_based, event_by_event = await _decided(sessions, a), await _decided(sessions, b)
    assert set_based == event_by_event and queued == one_by_one
    statuses = {s for *_, s in set_based}
    assert statuses == {"queued", "digested"}, "the policy decided something other than send (digest threshold 2)"
    assert len(set_based) == 2 * len(tickets)
    async with sessions() as session:
        events = (await session.execute(select(metadata.tables["notify.outbox"].c.key).where(
            metadata.tables["notify.outbox"].c.key.in_(
                select(deliveries.c.id).where(deliveries.c.recipient_id.in_([a, b])))))).all()
    assert len(events) == 4 * len(tickets)  # one `notify.delivery.recorded` per delivery row, either way


class _Keeping(LeanSmtpServer):
    def __init__(self, port: int, *, pipelining: bool = True, chunking: bool = True) -> None:
        super().__init__("127.0.0.1", port, pipelining=pipelining, chunking=chunking)
        self.kept: list[tuple[str, list[str], bytes]] = []

    def received(self, mail_from: str, rcpt_tos: list[str], content: bytes) -> None:
        self.kept.append((mail_from, rcpt_tos, content))


@contextlib.asynccontextmanager
async def _lean_server(*, pipelining: bool = True, chunking: bool = True) -> AsyncIterator[_Keeping]:
    port = free_port()
    lean = _Keeping(port, pipelining=pipelining, chunking=chunking)
    serving = asyncio.create_task(lean.serve())
    try:
        for _ in range(100):  # until it listens
            try:
                _, probe = await asyncio.open_connection("127.0.0.1", port)
                probe.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        yield lean
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving


async def test_the_lean_smtp_server_of_the_benchmarks_speaks_smtp_to_the_pooled_client() -> None:
    async with _lean_server() as lean:
        await _five_mails_one_with_dotted_attachment(lean)


async def _five_mails_one_with_dotted_attachment(lean: _Keeping) -> None:
    sender = SmtpSender(f"smtp://127.0.0.1:{lean.port}", "sla@groupsuite.example", connections=2)
    try:
        csv = [{"filename": "r.csv", "content_type": "text/csv", "content": ".starts with a dot\r\n..two\r\n.\r\n"}]
        await asyncio.gather(*(sender.send(to=f"p{i}@example.com", subject=f"告警 {i}", text="正文", html=None,
                                           delivery_id=f"dlv_lean_{i}", attachments=csv if i == 0 else ())
                               for i in range(5)))
        assert sorted(rcpt for _, (rcpt,), _ in lean.kept) == [f"p{i}@example.com" for i in range(5)]
        assert {m for m, _, _ in lean.kept} == {"sla@groupsuite.example"}
        first = next(c for _, (r,), c in lean.kept if r == "p0@example.com")
        msg = message_from_bytes(first, policy=policy.default)
        assert str(msg["Subject"]) == "告警 0" and _subject(first) == "告警 0"
        (attachment,) = list(msg.iter_attachments())
        assert attachment.get_content().replace("\r\n", "\n") == ".starts with a dot\n..two\n.\n"  # dots unstuffed
    finally:
        await sender.close()


# What the server offers → round trips per message: CHUNKING (with PIPELINING) 1, PIPELINING alone 2, neither 4.
_OFFERS = {"chunking": (True, True, 1), "pipelining": (True, False, 2), "neither": (False, False, 4)}


@pytest.mark.parametrize("offer", list(_OFFERS))
async def test_a_message_is_one_round_trip_with_chunking_two_with_pipelining_four_without(offer: str) -> None:
    pipelining, chunking, round_trips = _OFFERS[offer]
    async with _lean_server(pipelining=pipelining, chunking=chunking) as lean:
        sender = SmtpSender(f"smtp://127.0.0.1:{lean.port}", "sla@groupsuite.example", connections=1)
        try:
            await sender.send(to="first@example.com", subject="s", text="t", html="<p>h</p>", delivery_id="dlv_rt_0")
            before = lean.writes  # the session is open (greeting, EHLO): from here on, messages only
            for i in range(1, 11):
                await sender.send(to=f"p{i}@example.com", subject=f"s {i}", text="t", html=None,
                                  delivery_id=f"dlv_rt_{i}")
            assert (lean.writes - before) == round_trips * 10
            assert sorted(r for _, (r,), _ in lean.kept)[-3:] == ["p7@example.com", "p8@example.com", "p9@example.com"]
            assert len(lean.kept) == 11 and sender._idle.qsize() == 1  # one session carried them all
        finally:
            await sender.close()
        lean.kept.clear()
        await _five_mails_one_with_dotted_attachment(lean)  # the same messages arrive whole either way


@pytest.mark.parametrize("offer", list(_OFFERS))
async def test_a_refused_recipient_fails_its_message_only_and_the_session_goes_on(offer: str) -> None:
    pipelining, chunking, _ = _OFFERS[offer]
    async with _lean_server(pipelining=pipelining, chunking=chunking) as lean:
        lean.refuse = {"gone@example.com": "550 5.1.1 no such user", "full@example.com": "452 4.2.2 mailbox full"}
        sender = SmtpSender(f"smtp://127.0.0.1:{lean.port}", "sla@groupsuite.example", connections=1)
        try:
            with pytest.raises(PermanentSendError, match="550"):
                await sender.send(to="gone@example.com", subject="s", text="t", html=None, delivery_id="dlv_r_1")
            with pytest.raises(SmtpReplyError) as transient:  # 4xx: the channel retries it later
                await sender.send(to="full@example.com", subject="s", text="t", html=None, delivery_id="dlv_r_2")
            assert transient.value.code == 452 and transient.value.command == "RCPT TO"
            await sender.send(to="ok@example.com", subject="after", text="t", html=None, delivery_id="dlv_r_3")
            assert [(r, _subject(c)) for _, (r,), c in lean.kept] == [("ok@example.com", "after")]
            assert sender._idle.qsize() == 1  # the refusals did not cost the session
            with pytest.raises(PermanentSendError, match="address"):
                await sender.send(to="a@b> NOTIFY=NEVER", subject="s", text="t", html=None, delivery_id="dlv_r_4")
        finally:
            await sender.close()


async def test_a_receipt_that_cannot_be_stored_refuses_only_itself(sessions: async_sessionmaker[AsyncSession]) -> None:
    run = uuid.uuid4().hex[:8]
    good, bad = f"dlv_p{run}_good", f"dlv_p{run}_bad"
    async with sessions() as session, session.begin():
        await session.execute(insert(deliveries), [_row(good, status="sent"), _row(bad, status="sent")])
        await session.execute(insert(sms_parts), [{"delivery_id": good, "part_no": 1, "message_id": f"{run}-ok"},
                                                  {"delivery_id": bad, "part_no": 1, "message_id": f"{run}-no"}])
    receipts = Receipts(sessions)
    ok = DeliveryReport(f"{run}-ok", "13900000000", "DELIVRD", "000", None, None, "raw")
    too_long = DeliveryReport(f"{run}-no", "13900000000", "UNDELIV", "x" * 40, None, None, "raw")  # dlr_err: 10
    results = await asyncio.gather(receipts.apply(ok), receipts.apply(too_long), return_exceptions=True)
    assert results[0] is True and isinstance(results[1], Exception)
    assert await _statuses(sessions, [good, bad]) == {good: "delivered", bad: "sent"}
