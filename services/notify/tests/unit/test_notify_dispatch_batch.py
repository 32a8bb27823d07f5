"""Batched dispatch without I/O: a claimed batch is sent concurrently and one row's failure does not
stop the others; `sent` outcomes that become ready while a commit is in flight go together in the
next one, and a failed group commit reaches every waiting row; the e-mail's MIME bytes read back as
what was sent."""

from __future__ import annotations

import asyncio
import re
from email import message_from_bytes, policy
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backbone.workers import Backoff
from notify.channels.base import Sent
from notify.channels.email import SmtpSender
from notify.channels.smtp_session import data_block
from notify.dispatch.lease import Lease
from notify.dispatch.outcomes import Outcomes
from notify.dispatch.wakeup import Wakeup
from notify.dispatch.workers import DispatchWorker


class RecordingOutcomes:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def sent(self, row: Any, sent: Any) -> None:
        self.calls.append(("sent", row["id"]))

    async def uncertain(self, row: Any, reason: str) -> None:
        self.calls.append(("uncertain", row["id"]))

    async def failed(self, row: Any, reason: str, *, permanent: bool, unreachable: bool = False) -> None:
        self.calls.append(("failed", row["id"]))


class TogetherChannel:
    """Answers only once every row of the batch is in flight (a sequential worker would wait forever)."""

    name = "sms"
    permanent_errors: tuple[type[Exception], ...] = (ValueError,)
    unreachable_errors: tuple[type[BaseException], ...] = (ConnectionRefusedError,)

    def __init__(self, batch: int, bad: str) -> None:
        self.barrier = asyncio.Barrier(batch)
        self.bad = bad

    async def send(self, row: Any) -> Any:
        await self.barrier.wait()
        if row["id"] == self.bad:
            raise ValueError("refused")
        return SimpleNamespace(summary="ok", provider_id=f"m-{row['id']}", last_part=None)


async def test_a_claimed_batch_is_sent_concurrently_and_one_failure_stays_its_rows() -> None:
    outcomes = RecordingOutcomes()
    lease = Lease()
    lease.alive.set()
    parts = SimpleNamespace(lease=lease, wakeup=Wakeup(), outcomes=outcomes)
    worker = DispatchWorker(TogetherChannel(4, bad="d2"), 0, parts=parts, engine=None,  # type: ignore[arg-type]
                            poll_s=None, batch=4)
    rows = [{"id": f"d{i}", "attempts": 1} for i in range(4)]

    async def claim() -> list[dict[str, Any]]:
        return rows

    worker.claim = claim  # type: ignore[method-assign]
    assert await asyncio.wait_for(worker.step(), 5) == 0.0
    assert sorted(outcomes.calls) == [("failed", "d2"), ("sent", "d0"), ("sent", "d1"), ("sent", "d3")]
    assert lease._in_flight == 0


def _outcomes() -> Outcomes:
    return Outcomes(None, max_attempts=3, backoff=Backoff(initial_s=1, max_s=1))  # type: ignore[arg-type]


async def test_sent_outcomes_ready_during_a_commit_go_together_in_the_next_one() -> None:
    outcomes = _outcomes()
    groups: list[list[str]] = []
    first_in_flight, release = asyncio.Event(), asyncio.Event()

    async def commit(group: list[tuple[Any, Sent]]) -> None:
        groups.append([row["id"] for row, _ in group])
        if len(groups) == 1:
            first_in_flight.set()
            await release.wait()

    outcomes._commit_sent = commit  # type: ignore[method-assign]
    sent = Sent("m", "s")
    first = asyncio.create_task(outcomes.sent({"id": "a"}, sent))
    await first_in_flight.wait()
    rest = [asyncio.create_task(outcomes.sent({"id": i}, sent)) for i in ("b", "c", "d")]
    await asyncio.sleep(0)
    assert not first.done()  # returns only once its own row is committed
    release.set()
    await asyncio.gather(first, *rest)
    assert groups == [["a"], ["b", "c", "d"]]


async def test_a_failed_group_commit_fails_every_row_of_the_group() -> None:
    outcomes = _outcomes()

    async def commit(group: list[tuple[Any, Sent]]) -> None:
        raise ConnectionError("database away")

    outcomes._commit_sent = commit  # type: ignore[method-assign]
    results = await asyncio.gather(*(outcomes.sent({"id": i}, Sent("m", "s")) for i in "xyz"), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)


async def test_a_row_that_cannot_commit_fails_only_itself_not_its_group() -> None:
    outcomes = _outcomes()
    committed: list[str] = []

    async def commit(group: list[tuple[Any, Sent]]) -> None:
        if any(row["id"] == "bad" for row, _ in group):
            raise ValueError("value too long")
        committed.extend(row["id"] for row, _ in group)

    outcomes._commit_sent = commit  # type: ignore[method-assign]
    results = await asyncio.gather(*(outcomes.sent({"id": i}, Sent("m", "s")) for i in ("a", "bad", "c")),
                                   return_exceptions=True)
    assert results[0] is None and isinstance(results[1], ValueError) and results[2] is None
    assert sorted(committed) == ["a", "c"]


_LINE_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # str.splitlines' line ends: not inside a line
_text = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=_LINE_BREAKS), max_size=300)


@settings(max_examples=60, deadline=None)
@given(subject=_text, text=st.lists(_text, max_size=5).map("\n".join), html=st.none() | _text.filter(bool))
def test_the_mime_bytes_read_back_as_the_message(subject: str, text: str, html: str | None) -> None:
    sender = SmtpSender("smtp://127.0.0.1:25", "sla-alerts@groupsuite.example")
    raw = sender.mime(to="p1@example.com", subject=subject, text=text, html=html, delivery_id="dlv_01")
    assert raw is not None
    msg = message_from_bytes(raw, policy=policy.default)
    assert str(msg["Subject"]) == " ".join(subject.split())
    assert msg["To"] == "p1@example.com" and msg["From"] == "sla-alerts@groupsuite.example"
    assert msg["Message-ID"] == "<dlv_01@groupsuite.example>" and msg["X-Delivery-Id"] == "dlv_01"
    plain = msg.get_body(preferencelist=("plain",))
    assert plain is not None and plain.get_content() == text
    if html is None:
        assert not msg.is_multipart()
    else:
        part = msg.get_body(preferencelist=("html",))
        assert part is not None and part.get_content() == html


@pytest.mark.parametrize("to", ["名字@example.com", "a@example.com\r\nBcc: x@example.com"])
def test_addresses_the_fast_path_cannot_write_go_through_the_email_package(to: str) -> None:
    sender = SmtpSender("smtp://127.0.0.1:25", "sla-alerts@groupsuite.example")
    assert sender.mime(to=to, subject="s", text="t", html=None, delivery_id="dlv_01") is None


@settings(max_examples=300)
@given(st.lists(st.sampled_from([b"a", b".", b"..", b"\r\n", b"\n", b"\r", b"x.y", b" "]), max_size=40))
def test_the_data_block_ends_lines_with_crlf_and_doubles_leading_dots(pieces: list[bytes]) -> None:
    content = b"".join(pieces)
    normalized = re.sub(rb"(?<!\r)\n", b"\r\n", content)
    normalized += b"" if normalized.endswith(b"\r\n") else b"\r\n"
    block = data_block(content)
    assert block.endswith(b".\r\n") and block.count(b"\n") == block.count(b"\r\n")
    # what a server reads back (RFC 5321 4.5.2): up to the end mark, each leading dot undoubled
    lines = block[:-3].split(b"\r\n")[:-1]
    assert not any(line.startswith(b".") and not line.startswith(b"..") for line in lines)
    assert b"".join((line[1:] if line.startswith(b".") else line) + b"\r\n" for line in lines) == normalized
