"""`backbone.workers.wake_on_commit` / `after_commit` on real PostgreSQL: a worker is woken by the commit
of the transaction that queued its work, never by a rollback, once per transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from backbone.db import make_engine, make_session_factory
from backbone.workers import Worker, after_commit, wake_on_commit

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_commit_wakes_the_worker_and_a_rollback_does_not(infra):
    engine = make_engine(infra.database_url, pool_size=1)
    sf = make_session_factory(engine)
    committed, rolled_back = Worker("committed"), Worker("rolled-back")
    calls: list[str] = []
    try:
        async with sf() as session:
            async with session.begin():
                await session.execute(text("SELECT 1"))
                wake_on_commit(session, committed)
                after_commit(session, "once", lambda: calls.append("a"))
                after_commit(session, "once", lambda: calls.append("b"))  # same key: replaces, runs once
                assert not committed._wake.is_set()  # not before the commit
            assert committed._wake.is_set()
            assert calls == ["b"]

            with pytest.raises(RuntimeError):
                async with session.begin():
                    await session.execute(text("SELECT 1"))
                    wake_on_commit(session, rolled_back)
                    raise RuntimeError("rolled back")
            assert not rolled_back._wake.is_set()
            async with session.begin():  # a later commit of the same session does not run it either
                await session.execute(text("SELECT 1"))
            assert not rolled_back._wake.is_set()
    finally:
        await engine.dispose()


async def test_a_consumer_wakes_its_workers_after_it_applied_events(infra):
    """`ConsumerRunner.wake_on_commit`: the SLA scanner sleeps until its next timer and is woken this way
    when the consumer writes one (a run of events, the batch path, and a single event, the one-by-one path)."""
    import uuid
    from datetime import UTC, datetime

    from sqlalchemy import func, select

    from backbone.consumer import RetryPolicy
    from backbone.envelope import Envelope
    from backbone.events import OrderCancelled
    from backbone.kafka import Producer
    from tests.support.kafka_tools import eventually
    from tests.support.scratch import consumer_running, consumer_scratch, recording_runner

    schema = f"bb_wake_{uuid.uuid4().hex[:8]}"
    scratch = await consumer_scratch(infra, schema)
    engine, effects, _inbox, topic = scratch
    producer = Producer(infra.kafka_bootstrap)
    await producer.start()
    sf = make_session_factory(engine)
    runner = recording_runner(infra, scratch, sf, producer, name=schema,
                              retry=RetryPolicy(max_attempts=2, initial_s=0.05))
    woken = Worker("woken")
    runner.wake_on_commit(woken)

    async def applied(n: int) -> bool:
        async with sf() as s:
            return int((await s.execute(select(func.count()).select_from(effects))).scalar_one()) >= n

    async def is_set(worker: Worker) -> bool:
        return worker._wake.is_set()

    def event(n: int) -> bytes:
        return Envelope.wrap(OrderCancelled(order_id="o1", customer_id="c1", reason=f"#{n}",
                                            cancelled_at=datetime.now(UTC)), source="test", subject="o1").to_bytes()

    async with consumer_running(engine, schema, runner, producer):
        assert not woken._wake.is_set()
        await producer.send(topic, event(1), key=b"o1")
        await producer.send_and_wait(topic, event(2), key=b"o1")
        await eventually(lambda: applied(2), what="a run of two events applied")
        # The rows are visible the moment PostgreSQL commits; the hook runs when the consumer sees the reply.
        await eventually(lambda: is_set(woken), what="the worker woken by the run's commit")
        woken._wake.clear()
        await producer.send_and_wait(topic, event(3), key=b"o1")
        await eventually(lambda: applied(3), what="a single event applied")
        await eventually(lambda: is_set(woken), what="the worker woken by the event's commit")
