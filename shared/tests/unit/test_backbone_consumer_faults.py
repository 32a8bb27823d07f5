"""The consumer under infrastructure faults, with fakes: a database outage longer than the retry
budget never dead-letters a good event, a DLQ outage pauses the partition instead of killing the
loop or committing past the record, and only the event's own faults reach the DLQ."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaTimeoutError
from sqlalchemy import exc as sa_exc

import backbone.consumer as consumer_mod
from backbone.consumer import ConsumerRunner, PermanentError, RetryPolicy, _CommitBeforeRevoke, is_transient
from backbone.envelope import Envelope
from backbone.errors import Unavailable
from backbone.events import OrderCancelled

TP = TopicPartition("t.orders", 0)


class _Tx:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


class _Session:
    def begin(self) -> _Tx:
        return _Tx()


class FlakyDatabase:
    """A session factory whose connection fails `down_for` times (the database stopped), then works."""

    def __init__(self, down_for: int, error: BaseException | None = None) -> None:
        self.down_for = down_for
        self.error = error or OSError(111, "Connect call failed ('127.0.0.1', 5432)")
        self.opened = 0

    def __call__(self) -> FlakyDatabase:
        return self

    async def __aenter__(self) -> _Session:
        self.opened += 1
        if self.opened <= self.down_for:
            raise self.error
        return _Session()

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        return None


class FakeProducer:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[tuple[str, bytes]] = []

    async def send_and_wait(self, topic: str, value: bytes, **_: Any) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise KafkaTimeoutError("metadata for the DLQ topic not available")
        self.sent.append((topic, value))


class FakeConsumer:
    def __init__(self) -> None:
        self.committed: dict[TopicPartition, int] = {}
        self.owned = {TP}

    def assignment(self) -> set[TopicPartition]:
        return self.owned

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed.update(offsets)


def _record(offset: int, value: bytes) -> ConsumerRecord:  # type: ignore[type-arg]
    return ConsumerRecord(TP.topic, TP.partition, offset, 0, 0, b"k", value, None, 1, len(value), [])


def _event() -> Envelope:
    payload = OrderCancelled(order_id="o1", customer_id="c1", reason="r", cancelled_at=datetime.now(UTC))
    return Envelope.wrap(payload, source="test", subject="o1")


def _runner(db: FlakyDatabase, producer: FakeProducer, applied: list[str],
            fail_with: BaseException | None = None) -> ConsumerRunner:
    async def handler(session: object, event: Envelope) -> None:
        if fail_with is not None:
            raise fail_with
        applied.append(str(event.id))

    return ConsumerRunner(
        name="g", bootstrap="unused:9092", topics=[TP.topic], group_id="g", handlers={"crm.order.cancelled": handler},
        session_factory=db,  # type: ignore[arg-type]
        inbox=None,  # type: ignore[arg-type]
        producer=producer,  # type: ignore[arg-type]
        retry=RetryPolicy(max_attempts=3, initial_s=0.001, max_s=0.002, transient_max_s=0.002),
    )


@pytest.fixture(autouse=True)
def _claim_always_fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    async def claim(*_: object) -> bool:
        return True

    monkeypatch.setattr(consumer_mod, "claim", claim)


def test_transient_classification() -> None:
    assert is_transient(OSError(111, "refused"))
    assert is_transient(ConnectionResetError())
    assert is_transient(KafkaTimeoutError())
    assert is_transient(Unavailable("down"))
    wrapped = sa_exc.DBAPIError("SELECT 1", None, Exception("x"), connection_invalidated=True)
    assert is_transient(wrapped)
    try:
        try:
            raise ConnectionRefusedError(111, "refused")
        except ConnectionRefusedError as inner:
            raise RuntimeError("pool checkout failed") from inner
    except RuntimeError as chained:
        assert is_transient(chained)

    class AdminShutdown(Exception):
        sqlstate = "57P01"

    assert is_transient(AdminShutdown())
    assert not is_transient(ValueError("bad data"))
    assert not is_transient(PermanentError("contradicts the aggregate"))

    class UniqueViolation(Exception):
        sqlstate = "23505"

    assert not is_transient(UniqueViolation())


async def test_a_database_outage_longer_than_the_retry_budget_dead_letters_nothing() -> None:
    db, producer, applied = FlakyDatabase(down_for=40), FakeProducer(), []
    runner = _runner(db, producer, applied)
    consumer = FakeConsumer()
    event = _event()
    await runner._work_partition(consumer, TP, [_record(7, event.to_bytes())])
    assert applied == [str(event.id)]  # applied once the database came back, 40 failures later
    assert producer.sent == []  # nothing dead-lettered
    assert consumer.committed == {TP: 8}
    assert runner.paused == {}


async def test_the_partition_reads_paused_while_the_database_is_down() -> None:
    db, producer, applied = FlakyDatabase(down_for=10**9), FakeProducer(), []
    runner = _runner(db, producer, applied)
    consumer = FakeConsumer()
    task = asyncio.create_task(runner._work_partition(consumer, TP, [_record(0, _event().to_bytes())]))
    for _ in range(200):
        await asyncio.sleep(0.005)
        if runner.paused:
            break
    assert "t.orders[0]" in runner.paused
    assert runner.health().startswith("paused")
    runner.stop()  # stopping while paused: nothing committed, no DLQ copy
    with pytest.raises(consumer_mod.PartitionRevoked):
        await task
    assert consumer.committed == {} and producer.sent == [] and applied == []


async def test_a_revoked_partition_stops_retrying_without_committing() -> None:
    db, producer, applied = FlakyDatabase(down_for=10**9), FakeProducer(), []
    runner = _runner(db, producer, applied)
    consumer = FakeConsumer()
    task = asyncio.create_task(runner._work_partition(consumer, TP, [_record(0, _event().to_bytes())]))
    await asyncio.sleep(0.05)
    consumer.owned = set()
    with pytest.raises(consumer_mod.PartitionRevoked):
        await task
    assert consumer.committed == {} and producer.sent == []


async def test_a_dlq_outage_pauses_on_the_record_and_never_commits_past_it() -> None:
    db, producer, applied = FlakyDatabase(down_for=0), FakeProducer(failures=5), []
    runner = _runner(db, producer, applied, fail_with=PermanentError("never applies"))
    consumer = FakeConsumer()
    committed_while_failing: list[dict[TopicPartition, int]] = []
    original = producer.send_and_wait

    async def watching(topic: str, value: bytes, **kw: Any) -> None:
        committed_while_failing.append(dict(consumer.committed))
        await original(topic, value, **kw)

    producer.send_and_wait = watching  # type: ignore[method-assign]
    await runner._work_partition(consumer, TP, [_record(3, _event().to_bytes())])
    assert all(c == {} for c in committed_while_failing)  # no commit while the DLQ copy was not durable
    assert [t for t, _ in producer.sent] == ["t.orders.dlq"]
    assert consumer.committed == {TP: 4}
    assert runner.paused == {}


async def test_a_malformed_record_still_goes_to_the_dlq_at_once() -> None:
    db, producer, applied = FlakyDatabase(down_for=0), FakeProducer(), []
    runner = _runner(db, producer, applied)
    consumer = FakeConsumer()
    await runner._work_partition(consumer, TP, [_record(0, b"{not json")])
    assert [t for t, _ in producer.sent] == ["t.orders.dlq"] and consumer.committed == {TP: 1}


async def test_a_data_error_is_bounded_and_dead_lettered() -> None:
    db, producer, applied = FlakyDatabase(down_for=0), FakeProducer(), []
    runner = _runner(db, producer, applied, fail_with=ValueError("value too long for type"))
    consumer = FakeConsumer()
    await runner._work_partition(consumer, TP, [_record(0, _event().to_bytes())])
    assert [t for t, _ in producer.sent] == ["t.orders.dlq"] and consumer.committed == {TP: 1}


async def test_a_pass_commits_its_partitions_in_one_request_and_leaves_out_a_failed_one() -> None:
    """The partitions of a pass are committed together once all of them applied: one request to the group
    coordinator; a partition whose apply failed (here: revoked while retrying) is not committed."""
    ok_a, ok_b, lost = TopicPartition("t.orders", 1), TopicPartition("t.orders", 2), TopicPartition("t.orders", 3)

    class PassConsumer(FakeConsumer):
        def __init__(self) -> None:
            super().__init__()
            self.owned = {ok_a, ok_b}  # `lost` was revoked: its record cannot be retried here
            self.commits: list[dict[TopicPartition, int]] = []

        async def commit(self, offsets: dict[TopicPartition, int]) -> None:
            self.commits.append(dict(offsets))
            await super().commit(offsets)

        async def getmany(self, **_: Any) -> dict[TopicPartition, list[ConsumerRecord]]:  # type: ignore[type-arg]
            def rec(tp: TopicPartition, offset: int) -> ConsumerRecord:  # type: ignore[type-arg]
                value = _event().to_bytes()
                return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, b"k", value, None, 1, len(value), [])
            return {lost: [rec(lost, 2)], ok_a: [rec(ok_a, 4)], ok_b: [rec(ok_b, 9)]}

    applied: list[str] = []
    # The database is down for the first session (the first partition's): it holds its record, then finds
    # itself revoked; the two others apply.
    runner, consumer = _runner(FlakyDatabase(down_for=1), FakeProducer(), applied), PassConsumer()
    runner._consumer = consumer  # type: ignore[assignment]
    await runner.step()
    assert len(applied) == 2
    assert len(consumer.commits) == 1, "one commit for the pass"
    assert consumer.committed == {ok_a: 5, ok_b: 10}


async def test_offsets_are_kept_between_commits_and_sent_when_due_before_a_rebalance_and_at_stop() -> None:
    """A pass's offsets are committed at once when `commit_interval_s` has passed since the last commit, else
    kept: the idle wait then lasts no longer than they may wait, and sends them; a rebalance sends those of the
    partitions it takes (and only those), and so does a stop. A kept offset of a partition no longer assigned
    is left to its new owner."""
    a, b = TopicPartition("t.orders", 1), TopicPartition("t.orders", 2)

    class QueueConsumer(FakeConsumer):
        def __init__(self) -> None:
            super().__init__()
            self.owned = {a, b}
            self.queue: list[dict[TopicPartition, list[ConsumerRecord]]] = []  # type: ignore[type-arg]
            self.commits: list[dict[TopicPartition, int]] = []
            self.waits: list[int] = []
            self.stopped = False

        async def commit(self, offsets: dict[TopicPartition, int]) -> None:
            self.commits.append(dict(offsets))
            await super().commit(offsets)

        async def getmany(self, timeout_ms: int = 0, **_: Any) -> dict[TopicPartition, list[ConsumerRecord]]:  # type: ignore[type-arg]
            if self.queue:
                return self.queue.pop(0)
            if timeout_ms:
                self.waits.append(timeout_ms)
                await asyncio.sleep(timeout_ms / 1000)
            return {}

        async def stop(self) -> None:
            self.stopped = True

        def give(self, tp: TopicPartition, offset: int) -> None:
            value = _event().to_bytes()
            self.queue.append({tp: [ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, b"k", value, None, 1,
                                                   len(value), [])]})

    applied: list[str] = []
    runner, consumer = _runner(FlakyDatabase(down_for=0), FakeProducer(), applied), QueueConsumer()
    runner.commit_interval_s = 0.3
    runner._consumer = consumer  # type: ignore[assignment]

    consumer.give(a, 0)
    await runner.step()
    assert consumer.commits == [{a: 1}], "the first pass's offsets go at once"
    consumer.give(a, 1)
    consumer.give(b, 5)
    await runner.step()
    await runner.step()
    assert consumer.commits == [{a: 1}] and len(applied) == 3, "applied, offsets kept"

    await runner.step()  # nothing to read: the wait ends when the kept offsets are due, and sends them
    assert consumer.waits and consumer.waits[-1] <= 300
    assert consumer.commits[-1] == {a: 2, b: 6}

    consumer.give(a, 2)
    consumer.give(b, 6)
    await runner.step()
    await runner.step()
    await _CommitBeforeRevoke(runner).on_partitions_revoked({b})
    assert consumer.commits[-1] == {b: 7}, "a rebalance sends the offsets of the partitions it takes, only those"

    consumer.owned = {b}  # `a` went to another member meanwhile: its kept offset is the new owner's business
    consumer.give(b, 7)
    await runner.step()
    commits = len(consumer.commits)
    await runner.teardown()
    assert consumer.stopped and consumer.commits[commits:] == [{b: 8}], "a stop sends what is kept"
