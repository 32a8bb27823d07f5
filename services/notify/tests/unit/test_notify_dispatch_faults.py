"""Dispatch and receipts under database faults, with fakes: a `sent` that cannot be committed after the
server accepted is requeued flagged `uncertain`; a failure in the failure path neither kills the worker
nor strands the row in `sending` under a live owner; a receipt is acknowledged to the SMSC only after
it was stored (refused with a temporary error otherwise, so the SMSC delivers it again)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import notify.dispatch.workers as workers
from backbone.workers import Backoff
from notify.dispatch.lease import Lease
from notify.dispatch.wakeup import Wakeup
from notify.dispatch.workers import DispatchWorker
from notify.smpp import pdu as P
from notify.smpp.client import SmppClient


class Down(Exception):
    pass


class FakeOutcomes:
    def __init__(self, *, sent_fails: int = 0, failed_fails: int = 0) -> None:
        self.sent_fails, self.failed_fails = sent_fails, failed_fails
        self.calls: list[str] = []

    async def sent(self, row: Any, sent: Any) -> None:
        self.calls.append("sent?")
        if self.sent_fails:
            self.sent_fails -= 1
            raise Down("connection is closed")
        self.calls.append("sent")

    async def uncertain(self, row: Any, reason: str) -> None:
        self.calls.append("uncertain")

    async def failed(self, row: Any, reason: str, *, permanent: bool, unreachable: bool = False) -> None:
        self.calls.append("failed?")
        if self.failed_fails:
            self.failed_fails -= 1
            raise Down("connection is closed")
        self.calls.append("failed")


class FakeChannel:
    name = "email"
    permanent_errors: tuple[type[Exception], ...] = (ValueError,)
    unreachable_errors: tuple[type[BaseException], ...] = (ConnectionRefusedError,)

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    async def send(self, row: Any) -> Any:
        if self.error:
            raise self.error
        return SimpleNamespace(summary="ok", provider_id="m1", last_part=None)


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "SETTLE_ATTEMPTS", 3)
    monkeypatch.setattr(workers, "SETTLE_BACKOFF", Backoff(initial_s=0.001, max_s=0.001))


def _worker(channel: FakeChannel, outcomes: FakeOutcomes) -> DispatchWorker:
    parts = SimpleNamespace(lease=Lease(), wakeup=Wakeup(), outcomes=outcomes)
    return DispatchWorker(channel, 0, parts=parts, engine=None, poll_s=None)  # type: ignore[arg-type]


async def test_a_sent_commit_that_fails_after_acceptance_requeues_the_row_as_uncertain() -> None:
    outcomes = FakeOutcomes(sent_fails=99)
    await _worker(FakeChannel(), outcomes).send({"id": "d1"})
    assert outcomes.calls == ["sent?"] * 3 + ["uncertain"]
    assert "failed" not in outcomes.calls  # never requeued as a plain retry


async def test_a_sent_commit_that_fails_briefly_is_retried_not_flagged() -> None:
    outcomes = FakeOutcomes(sent_fails=2)
    await _worker(FakeChannel(), outcomes).send({"id": "d1"})
    assert outcomes.calls == ["sent?", "sent?", "sent?", "sent"]


async def test_a_failing_failure_path_keeps_the_row_and_settles_it_before_the_next_claim() -> None:
    outcomes = FakeOutcomes(failed_fails=99)
    worker = _worker(FakeChannel(error=ConnectionError("smtp down")), outcomes)
    await worker.send({"id": "d1"})  # does not raise: the worker lives on
    assert len(worker.unsettled) == 1
    with pytest.raises(Down):
        await worker.settle_pending()  # the database still away: the pass fails and backs off
    outcomes.failed_fails = 0
    assert await worker.settle_pending() and worker.unsettled == []
    assert outcomes.calls[-1] == "failed"


def _receipt() -> P.DeliverSm:
    text = b"id:abc123 sub:001 dlvrd:001 submit date:2601011200 done date:2601011201 stat:DELIVRD err:000 text:"
    return P.DeliverSm(sequence=7, source_addr="491701234567", esm_class=P.ESM_CLASS_DELIVERY_RECEIPT,
                       short_message=text)


@pytest.mark.parametrize("store_fails", [False, True])
async def test_a_receipt_is_acknowledged_only_after_it_is_stored(store_fails: bool) -> None:
    order: list[str] = []

    async def on_dlr(report: Any) -> None:
        order.append("stored?")
        if store_fails:
            raise Down("database away")
        order.append("stored")

    client = SmppClient("smpp://u:p@127.0.0.1:2775", on_dlr=on_dlr)
    sent: list[P.Pdu] = []

    async def send(conn: Any, pdu: P.Pdu) -> None:
        order.append("ack")
        sent.append(pdu)

    client._send = send  # type: ignore[method-assign]
    await client._receipt(None, _receipt())  # type: ignore[arg-type]
    assert order == (["stored?", "ack"] if store_fails else ["stored?", "stored", "ack"])
    assert sent[0].sequence == 7
    assert sent[0].status == (P.Status.ESME_RX_T_APPNACK if store_fails else P.Status.ESME_ROK)
