"""An idle consumer waits long (`ConsumerRunner.idle_poll_s`) and yet misses nothing, on real Kafka and
PostgreSQL: records produced while it waits are handed over as they arrive, `stop()` ends the wait at
once, and a cancelled worker stays cancelled. Each runner here waits up to an hour: the tests' timeouts
bound them, they measure nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from backbone.consumer import IDLE_POLL_S, ConsumerRunner
from backbone.db import make_session_factory
from backbone.envelope import Envelope
from backbone.events import OrderCancelled
from backbone.kafka import Producer
from tests.support.kafka_tools import eventually
from tests.support.scratch import consumer_scratch, recording_runner

pytestmark = pytest.mark.asyncio(loop_scope="session")

SCHEMA = "bb_consumer_idle"


async def _waiting(runner: ConsumerRunner) -> bool:
    return runner._idle_poll is not None


async def test_an_idle_consumer_gets_new_records_at_once_and_stops_at_once(infra) -> None:
    scratch = await consumer_scratch(infra, SCHEMA, partitions=2)
    engine, effects, _inbox, topic = scratch
    sf = make_session_factory(engine)
    producer = Producer(infra.kafka_bootstrap)
    await producer.start()

    def runner(group: str) -> ConsumerRunner:
        r = recording_runner(infra, scratch, sf, producer, name=group)
        r.idle_poll_s = 3600.0
        return r

    async def effects_seen() -> list[str]:
        async with sf() as s:
            return [row[0] for row in (await s.execute(select(effects.c.event_id))).all()]

    try:
        consumer = runner("bb-idle")
        task = asyncio.create_task(consumer.run())
        await eventually(lambda: _waiting(consumer), what="the consumer waiting in its idle poll", timeout_s=60)
        events = [Envelope.wrap(OrderCancelled(order_id=f"ord_idle_{n}", customer_id="c1", reason="idle",
                                               cancelled_at=datetime.now(UTC)), source="test", subject=f"ord_idle_{n}")
                  for n in range(3)]
        for event in events:
            await producer.send_and_wait(topic, event.to_bytes(), key=event.subject.encode())

        async def all_applied() -> bool:
            return sorted(await effects_seen()) == sorted(str(e.id) for e in events)

        # Handed over while the poll waits (it would otherwise end only after its hour).
        await eventually(all_applied, what="the records produced while the consumer idled", timeout_s=60)
        await eventually(lambda: _waiting(consumer), what="the consumer idle again", timeout_s=60)
        consumer.stop()
        await asyncio.wait_for(task, timeout=30)  # stop() ends the hour's wait
        assert consumer._consumer is None  # torn down: left its group

        # A worker cancelled while it idles (the runtime's last resort) ends cancelled, not as a quiet stop.
        cancelled = runner("bb-idle")  # the same group: its committed offsets, nothing to apply again
        task = asyncio.create_task(cancelled.run())
        await eventually(lambda: _waiting(cancelled), what="the second consumer idling", timeout_s=60)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=30)
        assert len(await effects_seen()) == 3
    finally:
        await producer.stop()
        await engine.dispose()


async def test_the_fetcher_holds_its_fetches_while_a_pass_has_records_to_take(infra) -> None:
    """`hold_fetches_while_records_wait` reaches aiokafka's fetcher (a private attribute: if a new aiokafka
    renames it, this fails instead of the bridge's records waiting up to `fetch_max_wait_ms` again)."""
    engine, _effects, inbox, topic = await consumer_scratch(infra, SCHEMA, partitions=1)
    producer = Producer(infra.kafka_bootstrap)
    runner = ConsumerRunner(name="bb-hold", bootstrap=infra.kafka_bootstrap, topics=[topic], group_id="bb-hold",
                            handlers={}, session_factory=make_session_factory(engine), inbox=inbox,
                            producer=producer)
    await runner.setup()
    try:
        assert runner._consumer is not None
        assert runner._consumer._fetcher._prefetch_backoff == IDLE_POLL_S
    finally:
        await runner.teardown()
        await engine.dispose()
