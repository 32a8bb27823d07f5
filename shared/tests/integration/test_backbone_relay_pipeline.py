"""The outbox relay's fast path, on real PostgreSQL and real Apache Kafka (docs/benchmarks.md, relay):

- `Producer.send_many` puts each key on the partition `send` picks, and stops at a record over the
  size limit with the records before it queued (the relay marks that prefix sent, sets the row aside);
- the leader's pass is pipelined on wake-ups: a commit that arrives while a batch's acks are awaited
  is read and handed to the producer at once, and both batches are marked sent after their acks, in
  order;
- a backlog goes one batch at a time through the leader's pass, every row marked sent exactly once.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka.errors import MessageSizeTooLargeError
from sqlalchemy import MetaData, func, select, text

from backbone.db import make_engine, make_session_factory, outbox_table
from backbone.envelope import Envelope
from backbone.events import OrderCancelled
from backbone.kafka import Producer
from backbone.outbox import OutboxRelay, add_event
from backbone.release import ensure_topics
from backbone.topics import TopicSpec
from tests.support.kafka_tools import eventually, read_events

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _cancelled(order_id: str, n: int) -> Envelope:
    payload = OrderCancelled(order_id=order_id, customer_id="c1", reason=f"#{n}", cancelled_at=datetime.now(UTC))
    return Envelope.wrap(payload, source="test", subject=order_id)


async def _topic(bootstrap: str, partitions: int = 4) -> str:
    topic = f"test.relay.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [TopicSpec(topic, partitions)])
    return topic


async def _outbox(infra, schema: str):  # type: ignore[no-untyped-def]
    md = MetaData(schema=schema)
    outbox = outbox_table(md)
    engine = make_engine(infra.database_url, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(md.create_all)
    return engine, outbox


async def test_send_many_puts_each_key_on_the_partition_send_picks_and_stops_at_an_oversized_record(infra):
    topic = await _topic(infra.kafka_bootstrap)
    producer = Producer(infra.kafka_bootstrap)
    await producer.start()
    try:
        keys = [f"ord_{n}".encode() for n in range(40)]
        one_by_one = [await (await producer.send(topic, b"{}", key=k)) for k in keys]
        queued: list[asyncio.Future[object]] = []
        await producer.send_many([(topic, k, b"{}") for k in keys + keys[:5]], queued)
        in_bulk = [await f for f in queued]
        expected = [m.partition for m in one_by_one]
        assert [m.partition for m in in_bulk] == expected + expected[:5]
        assert len({m.partition for m in in_bulk}) > 1

        queued = []
        big = b"x" * (2 * 1024 * 1024)
        with pytest.raises(MessageSizeTooLargeError):
            await producer.send_many([(topic, b"a", b"1"), (topic, b"b", big), (topic, b"c", b"3")], queued)
        assert len(queued) == 1 and (await queued[0]).topic == topic  # the record before it went out
    finally:
        await producer.stop()


async def test_a_commit_during_a_pass_is_queued_while_the_previous_batch_awaits_its_acks(infra):
    """The producer lingers 3 s, so the first batch's acks are 3 s away: the second commit wakes the leading
    relay (in-process, after its commit), which reads and queues its row before that first batch is acknowledged;
    the pass then marks both sent, in order."""
    engine, outbox = await _outbox(infra, "bb_pipeline")
    topic = await _topic(infra.kafka_bootstrap)
    slow = Producer(infra.kafka_bootstrap, linger_ms=3000)
    await slow.start()
    sf = make_session_factory(engine)
    relay = OutboxRelay(engine, outbox, slow, poll_interval_s=3600, fallback_poll_s=3600)
    try:
        await slow.partitions_for(topic)
        await relay.step()  # takes the lock; nothing to send yet
        assert relay.is_leader
        first, second = _cancelled("ord_pipe", 1), _cancelled("ord_pipe", 2)
        async with sf() as session, session.begin():
            await add_event(session, outbox, first, topic=topic)
        passing = asyncio.create_task(relay.step())

        async def in_flight(n: int) -> bool:
            return relay.in_flight == n

        await eventually(lambda: in_flight(1), what="the first row in the producer")
        async with sf() as session, session.begin():
            await add_event(session, outbox, second, topic=topic)
        await eventually(lambda: in_flight(2), what="the second row queued before the first's acks")
        assert not passing.done()
        await passing
        assert relay.in_flight == 0 and relay.published_total == 2
        async with sf() as session:
            unsent = (await session.execute(select(func.count()).where(outbox.c.sent_at.is_(None)))).scalar()
        assert unsent == 0
        published = [str(e.id) for e in await read_events(infra.kafka_bootstrap, topic)]
        assert published == [str(first.id), str(second.id)]
    finally:
        await relay.teardown()
        await slow.stop()
        await engine.dispose()


async def test_the_leaders_pass_relays_a_backlog_once_in_order(infra):
    engine, outbox = await _outbox(infra, "bb_backlog")
    topic = await _topic(infra.kafka_bootstrap)
    producer = Producer(infra.kafka_bootstrap)
    await producer.start()
    sf = make_session_factory(engine)
    relay = OutboxRelay(engine, outbox, producer, batch_size=50)
    try:
        events = [_cancelled(f"ord_{n % 7}", n) for n in range(230)]
        async with sf() as session, session.begin():
            for e in events:
                await add_event(session, outbox, e, topic=topic)
        while await relay.step() == 0.0:  # full batches: go on at once
            pass
        assert relay.published_total == 230 and relay.in_flight == 0
        async with sf() as session:
            unsent = (await session.execute(select(func.count()).where(outbox.c.sent_at.is_(None)))).scalar()
        assert unsent == 0
        published = await read_events(infra.kafka_bootstrap, topic)
        assert sorted(str(e.id) for e in published) == sorted(str(e.id) for e in events)  # each once
        for key in {e.subject for e in events}:  # per aggregate, in commit order
            assert [str(e.id) for e in published if e.subject == key] == [str(e.id) for e in events if e.subject == key]
    finally:
        await relay.teardown()
        await producer.stop()
        await engine.dispose()


async def test_relay_once_plans_with_its_parameters_without_changing_the_pooled_connections(infra):
    """`relay_once` runs on pooled connections: its read and mark-sent set `plan_cache_mode` for their own transaction
    (`SET LOCAL`), so the pool's connections keep PostgreSQL's default for every other statement."""
    engine, outbox = await _outbox(infra, "bb_relay_once_plans")
    topic = await _topic(infra.kafka_bootstrap)
    producer = Producer(infra.kafka_bootstrap)
    await producer.start()
    sf = make_session_factory(engine)
    relay = OutboxRelay(engine, outbox, producer)
    try:
        events = [_cancelled("ord_once", n) for n in range(3)]
        async with sf() as session, session.begin():
            for e in events:
                await add_event(session, outbox, e, topic=topic)
        assert await relay.relay_once() == 3
        for _ in range(2):  # both of the pool's connections (pool_size 2: read and mark-sent may take either)
            async with engine.connect() as a, engine.connect() as b:
                modes = {(await c.execute(text("SHOW plan_cache_mode"))).scalar() for c in (a, b)}
            assert modes == {"auto"}
        async with sf() as session:
            unsent = (await session.execute(select(func.count()).where(outbox.c.sent_at.is_(None)))).scalar()
        assert unsent == 0
    finally:
        await producer.stop()
        await engine.dispose()
