"""The delivery guarantees of the design contract (docs/architecture.md), on real PostgreSQL and real
Apache Kafka.

- outbox: a relay killed with SIGKILL between publish and mark-sent loses nothing on restart;
  the only duplicates are redeliveries, and the inbox absorbs them (one effect per event);
- inbox: the same event delivered twice, and again after a consumer restart: one effect;
- poison: malformed JSON and a payload that breaks its schema land on `<topic>.dlq` with the
  reason, and the consumer goes on with the next events of that partition;
- unknown event types are skipped and counted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import NamedTuple

import pytest
from sqlalchemy import Column, MetaData, String, Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone.consumer import ConsumerRunner, RetryPolicy
from backbone.db import inbox_table, make_engine, make_session_factory, outbox_table
from backbone.envelope import Envelope
from backbone.events import OrderCancelled
from backbone.kafka import Producer
from backbone.outbox import OutboxRelay, PublishTimeout, add_event
from backbone.release import ensure_topics
from backbone.topics import TopicSpec, dlq
from tests.support.kafka_tools import eventually, read_events, read_topic

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Scratch(NamedTuple):
    outbox: Table
    inbox: Table
    effects: Table
    topic: str
    sf: async_sessionmaker[AsyncSession]
    producer: Producer


@asynccontextmanager
async def scratch(infra, schema: str) -> AsyncIterator[Scratch]:
    """A schema of its own (outbox, inbox, effects), a fresh topic with its DLQ, a started producer."""
    md = MetaData(schema=schema)
    effects = Table("effects", md, Column("event_id", String(40)), Column("subject", String(40)))
    outbox, inbox = outbox_table(md), inbox_table(md)
    engine = make_engine(infra.database_url)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(md.create_all)
    topic = await _fresh_topic(infra.kafka_bootstrap)
    producer = Producer(infra.kafka_bootstrap)
    await producer.start()
    try:
        yield Scratch(outbox, inbox, effects, topic, make_session_factory(engine), producer)
    finally:
        await producer.stop()
        await engine.dispose()


def _cancelled(order_id: str, n: int) -> Envelope:
    payload = OrderCancelled(order_id=order_id, customer_id="c1", reason=f"#{n}", cancelled_at=datetime.now(UTC))
    return Envelope.wrap(payload, source="test", subject=order_id)


async def _fresh_topic(bootstrap: str) -> str:
    topic = f"test.stream.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [TopicSpec(topic, 4), TopicSpec(dlq(topic), 1)])
    return topic


def _runner(infra, topic: str, inbox: Table, effects: Table, session_factory, producer, group: str) -> ConsumerRunner:
    async def record_effect(session: AsyncSession, event: Envelope) -> None:
        event.payload(OrderCancelled)  # schema check: a broken payload is poison
        await session.execute(effects.insert().values(event_id=str(event.id), subject=event.subject))

    return ConsumerRunner(
        name=group, bootstrap=infra.kafka_bootstrap, topics=[topic], group_id=group,
        handlers={"crm.order.cancelled": record_effect}, session_factory=session_factory, inbox=inbox,
        producer=producer, retry=RetryPolicy(max_attempts=2, initial_s=0.05),
    )


async def _effects(session_factory, effects: Table) -> list[str]:
    async with session_factory() as s:
        return [r.event_id for r in (await s.execute(select(effects.c.event_id))).all()]


async def test_relay_killed_between_publish_and_mark_sent_loses_nothing(infra):
    async with scratch(infra, "bb_outbox") as (outbox, inbox, effects, topic, sf, producer):
        sent: list[Envelope] = []
        async with sf() as session, session.begin():
            for n in range(300):
                env = _cancelled(f"ord_{n % 12}", n)
                sent.append(env)
                await add_event(session, outbox, env, topic=topic)

        env = {**os.environ, "OUTBOX_BATCH_SIZE": "100", "OUTBOX_RELAY_PAUSE_AFTER_PUBLISH_S": "60"}
        relay = subprocess.Popen([sys.executable, "-m", "backbone.outbox", "bb_outbox"], env=env,
                                 stderr=subprocess.PIPE, text=True)
        # Wait for the relay to say it published a batch and is about to mark it sent, then kill it.
        deadline = time.monotonic() + 30
        assert relay.stderr is not None
        while time.monotonic() < deadline:
            line = relay.stderr.readline()
            if "pausing before mark-sent" in line:
                break
        else:
            relay.kill()
            pytest.fail("relay never reached the publish/mark-sent window")
        os.kill(relay.pid, signal.SIGKILL)
        relay.wait()

        async with sf() as s:
            unsent = (await s.execute(select(func.count()).where(outbox.c.sent_at.is_(None)))).scalar()
        assert unsent == 300, "the killed relay must not have marked anything sent"

        env.pop("OUTBOX_RELAY_PAUSE_AFTER_PUBLISH_S")
        relay2 = subprocess.Popen([sys.executable, "-m", "backbone.outbox", "bb_outbox"], env=env,
                                  stderr=subprocess.DEVNULL)
        try:
            async def all_marked() -> bool:
                async with sf() as s:
                    return (await s.execute(select(func.count()).where(outbox.c.sent_at.is_(None)))).scalar() == 0

            await eventually(all_marked, what="restarted relay to mark every row sent")
        finally:
            relay2.terminate()
            relay2.wait()

        records = await read_topic(infra.kafka_bootstrap, topic)
        ids = Counter(Envelope.model_validate_json(r.value).id for r in records)
        assert set(ids) == {e.id for e in sent}, "every event arrived"
        duplicated = {i for i, c in ids.items() if c > 1}
        assert len(duplicated) == 100, "exactly the batch published before the kill came twice"
        # Per aggregate, first deliveries keep commit order (same key → same partition, idempotent producer).
        first_seen: dict[str, list[str]] = defaultdict(list)
        seen: set[uuid.UUID] = set()
        for r in sorted(records, key=lambda r: (r.partition, r.offset)):
            e = Envelope.model_validate_json(r.value)
            if e.id not in seen:
                seen.add(e.id)
                first_seen[e.subject].append(e.data["reason"])
        for subject, reasons in first_seen.items():
            expected = [e.data["reason"] for e in sent if e.subject == subject]
            assert reasons == expected, f"order of {subject} kept"

        # The inbox turns the redeliveries into one effect each.
        runner = _runner(infra, topic, inbox, effects, sf, producer, "bb-outbox-consumer")
        task = asyncio.create_task(runner.run())
        try:
            async def all_applied() -> bool:
                return len(await _effects(sf, effects)) >= 300

            await eventually(all_applied, what="300 effects")
            await asyncio.sleep(1.0)  # let any straggling duplicates arrive
            applied = await _effects(sf, effects)
            assert len(applied) == 300 and len(set(applied)) == 300
        finally:
            runner.stop()
            await task


async def test_inbox_applies_a_redelivered_event_once_even_across_restarts(infra):
    event = _cancelled("ord_twice", 1)
    async with scratch(infra, "bb_inbox") as (_, inbox, effects, topic, sf, producer):
        for _ in range(2):
            await producer.send_and_wait(topic, event.to_bytes(), key=event.subject.encode())
        runner = _runner(infra, topic, inbox, effects, sf, producer, "bb-inbox")
        task = asyncio.create_task(runner.run())
        await eventually(lambda: _effects(sf, effects), what="first effect")
        await asyncio.sleep(1.0)
        runner.stop()
        await task

        # Redelivered after a restart (the producer retried long after): still one effect.
        await producer.send_and_wait(topic, event.to_bytes(), key=event.subject.encode())
        other = _cancelled("ord_other", 2)
        await producer.send_and_wait(topic, other.to_bytes(), key=other.subject.encode())
        runner = _runner(infra, topic, inbox, effects, sf, producer, "bb-inbox")
        task = asyncio.create_task(runner.run())

        async def two_effects() -> bool:
            return len(await _effects(sf, effects)) >= 2

        await eventually(two_effects, what="the other event's effect")
        await asyncio.sleep(0.5)
        runner.stop()
        await task
        assert sorted(await _effects(sf, effects)) == sorted([str(event.id), str(other.id)])


async def test_poison_events_go_to_the_dlq_with_their_reason_and_the_partition_moves_on(infra):
    key = b"ord_poison"  # all on one partition, behind each other
    good = _cancelled("ord_poison", 1)
    wrong_schema = Envelope(type="crm.order.cancelled", source="test", subject="ord_poison",
                            data={"order_id": "ord_poison"})  # misses customer_id, reason, cancelled_at
    unknown = Envelope(type="crm.order.teleported", source="test", subject="ord_poison", data={"x": 1})
    async with scratch(infra, "bb_poison") as (_, inbox, effects, topic, sf, producer):
        for value in (b"{not json", wrong_schema.to_bytes(), b'{"type": 3}', unknown.to_bytes(), good.to_bytes()):
            await producer.send_and_wait(topic, value, key=key)
        runner = _runner(infra, topic, inbox, effects, sf, producer, "bb-poison")
        task = asyncio.create_task(runner.run())
        await eventually(lambda: _effects(sf, effects), what="the good event behind the poison")
        runner.stop()
        await task
        assert await _effects(sf, effects) == [str(good.id)]

        dead = await read_topic(infra.kafka_bootstrap, dlq(topic))
        reasons = [dict(r.headers)["dlq.reason"].decode() for r in dead]
        kinds = [dict(r.headers)["dlq.kind"].decode() for r in dead]
        assert kinds == ["malformed", "schema", "malformed"]
        assert reasons[0].startswith("not JSON")
        assert "data.customer_id" in reasons[1] and "Field required" in reasons[1]
        assert reasons[2].startswith("envelope.")
        assert dead[0].value == b"{not json", "the DLQ keeps the original bytes for replay"
        assert dict(dead[1].headers)["dlq.original_topic"].decode() == topic


async def test_read_events_helper_sees_typed_envelopes(infra):
    topic = await _fresh_topic(infra.kafka_bootstrap)
    producer = Producer(infra.kafka_bootstrap)
    await producer.start()
    try:
        e = _cancelled("ord_helper", 7)
        await producer.send_and_wait(topic, e.to_bytes(), key=b"ord_helper")
    finally:
        await producer.stop()
    events = await read_events(infra.kafka_bootstrap, topic, subject="ord_helper")
    assert [x.id for x in events] == [e.id]


async def test_a_failing_event_in_a_batch_is_retried_alone_and_the_rest_apply_once(infra):
    events = [_cancelled("ord_batch", n) for n in range(40)]
    flaky = events[17].id
    failures = {"left": 2}  # a transient error, twice, on one event in the middle of the run

    async def record_effect(session: AsyncSession, event: Envelope) -> None:
        if event.id == flaky and failures["left"] > 0:
            failures["left"] -= 1
            raise ConnectionError("database hiccup")
        await session.execute(effects.insert().values(event_id=str(event.id), subject=event.subject))

    async with scratch(infra, "bb_batch") as (_, inbox, effects, topic, sf, producer):
        for e in events:
            await producer.send(topic, e.to_bytes(), key=b"ord_batch")
        await producer.send_and_wait(topic, events[-1].to_bytes(), key=b"ord_batch")  # and one redelivery
        runner = ConsumerRunner(
            name="bb-batch", bootstrap=infra.kafka_bootstrap, topics=[topic], group_id="bb-batch",
            handlers={"crm.order.cancelled": record_effect}, session_factory=sf, inbox=inbox, producer=producer,
            retry=RetryPolicy(max_attempts=5, initial_s=0.05), batch_size=100,
        )
        task = asyncio.create_task(runner.run())

        async def all_applied() -> bool:
            return len(await _effects(sf, effects)) >= 40

        await eventually(all_applied, what="40 effects")
        runner.stop()
        await task
        async with sf() as s:
            rows = (await s.execute(select(effects.c.event_id))).all()
        assert sorted(r.event_id for r in rows) == sorted(str(e.id) for e in events)
        assert failures["left"] == 0
        assert not await read_topic(infra.kafka_bootstrap, dlq(topic)), "a transient error is not poison"


@asynccontextmanager
async def two_relays(infra, outbox: Table, producer_a: Producer, producer_b: Producer,
                     **a_options: float) -> AsyncIterator[tuple[OutboxRelay, OutboxRelay]]:
    """Two relays of one outbox on engines of their own (two instances of a service), torn down after."""
    engine_a, engine_b = make_engine(infra.database_url, pool_size=2), make_engine(infra.database_url, pool_size=2)
    a, b = OutboxRelay(engine_a, outbox, producer_a, **a_options), OutboxRelay(engine_b, outbox, producer_b)
    try:
        yield a, b
    finally:
        await a.teardown()
        await b.teardown()
        await engine_a.dispose()
        await engine_b.dispose()


async def test_a_relay_whose_lock_connection_is_terminated_steps_down_and_stops_publishing(infra):
    async with scratch(infra, "bb_fence") as (outbox, _, _, topic, sf, producer):
        async with two_relays(infra, outbox, producer, producer) as (a, b):
            await a.step()
            await b.step()
            assert a.is_leader and not b.is_leader
            async with sf() as session, session.begin():
                await session.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND ((classid::bigint << 32) | objid::bigint) = :key"), {"key": a._lock_key})
                await add_event(session, outbox, _cancelled("ord_fence", 1), topic=topic)
            await a.step()  # the fence check fails: no read, no publish
            assert not a.is_leader and a.published_total == 0
            await b.step()  # the lock is free again: the other relay takes over and publishes
            await b.step()
            assert b.is_leader and b.published_total == 1
            await a.step()
            assert not a.is_leader and a.published_total == 0


async def test_a_leader_that_read_many_times_releases_the_lock_whole_when_it_steps_down(infra):
    async with scratch(infra, "bb_fence_holds") as (outbox, _, _, topic, sf, producer):
        async with two_relays(infra, outbox, producer, producer) as (a, b):
            for n in range(3):  # a pass per commit: a fenced read (a hold of the lock) each
                async with sf() as session, session.begin():
                    await add_event(session, outbox, _cancelled("ord_holds", n), topic=topic)
                await a.step()
            assert a.is_leader and a.published_total == 3
            await b.step()
            assert not b.is_leader
            await a.teardown()  # stepping down: every hold released, the connection back in the pool
            async with a.engine.connect() as conn:  # nobody holds the lock any more
                held = await conn.execute(text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND ((classid::bigint << 32) | objid::bigint) = :key"), {"key": a._lock_key})
                assert held.scalar() == 0
            await b.step()
            assert b.is_leader


async def test_a_leader_whose_lock_another_backend_took_reads_nothing_and_steps_down(infra):
    async with scratch(infra, "bb_fence_taken") as (outbox, _, _, topic, sf, producer):
        async with two_relays(infra, outbox, producer, producer) as (a, b):
            await a.step()
            assert a.is_leader
            # The lock leaves a's backend while that backend lives (as a pooler's reset would do), and b takes it.
            await a._lock_driver.execute("SELECT pg_advisory_unlock_all()")
            await b.step()
            assert b.is_leader
            async with sf() as session, session.begin():
                await add_event(session, outbox, _cancelled("ord_taken", 1), topic=topic)
            await a.step()  # the fence: another backend holds the lock, no row, no publish
            assert not a.is_leader and a.published_total == 0
            await b.step()
            assert b.published_total == 1


async def test_a_leader_whose_sends_go_unacknowledged_gives_up_the_lock_and_another_relay_takes_over(infra):
    """A leader cut off from the broker while its database is reachable: its sends just wait (here a real
    producer that lingers 5 s, ten times the relay's ack timeout, before sending anything: its stop() at the
    end flushes the lingering batch, so the test waits the linger out once). The pass fails
    after `ack_timeout_s`, the failed pass gives up the lock (`reset`, as `Worker.run` does), the relay
    stands by instead of taking the free lock back, and the other relay takes over and publishes
    (the drill partition-one runs the same on a TCP proxy that blackholes one service's Kafka traffic)."""
    async with scratch(infra, "bb_ack_timeout") as (outbox, _, _, topic, sf, producer):
        stuck = Producer(infra.kafka_bootstrap, linger_ms=5_000)
        await stuck.start()
        try:
            async with two_relays(infra, outbox, stuck, producer, ack_timeout_s=0.5) as (a, b):
                await a.step()
                await b.step()
                assert a.is_leader and not b.is_leader
                event = _cancelled("ord_ack_timeout", 1)
                async with sf() as session, session.begin():
                    await add_event(session, outbox, event, topic=topic)
                with pytest.raises(PublishTimeout):
                    await a.step()
                await a.reset()
                assert not a.is_leader and a.published_total == 0
                assert await a.step() > 0 and not a.is_leader  # gives way: does not take the free lock back at once
                await b.step()  # the lock is free: the other relay takes it and publishes the row
                await b.step()
                assert b.is_leader and b.published_total == 1
                assert str(event.id) in [str(e.id) for e in await read_events(infra.kafka_bootstrap, topic)]
        finally:
            await stuck.stop()


async def test_a_relay_publishes_on_commit_without_waiting_for_its_poll(infra):
    """A commit that wrote outbox rows wakes the relay: with both polls set to an hour, the only way the
    events reach Kafka is the wake-up. In-process (the session's commit wakes the leading relay), and
    across processes (a relay standing by elsewhere sends the leader, LISTENing on its lock connection,
    a pg_notify). A rolled-back transaction publishes nothing; all events go out in order."""
    async with scratch(infra, "bb_wake") as (outbox, _, _, topic, sf, producer):
        engine = make_engine(infra.database_url, pool_size=2)
        relay = OutboxRelay(engine, outbox, producer, poll_interval_s=3600, fallback_poll_s=3600)
        task = asyncio.create_task(relay.run())
        try:
            await eventually(lambda: _true(relay.is_leader and relay._listening is not None), what="a listening relay")
            await eventually(lambda: _true(relay.last_pass is not None), what="the relay's first pass")
            with pytest.raises(RuntimeError):
                async with sf() as session, session.begin():
                    await add_event(session, outbox, _cancelled("ord_wake_rb", 1), topic=topic)
                    raise RuntimeError("rolled back")
            first = [_cancelled("ord_wake", n) for n in range(1, 4)]
            async with sf() as session, session.begin():
                for env in first:
                    await add_event(session, outbox, env, topic=topic)

            async def published() -> list[str]:
                return [str(e.id) for e in await read_events(infra.kafka_bootstrap, topic)]

            await eventually(lambda: _has(published, [str(e.id) for e in first]), what="the woken relay's publish")
            second = _cancelled("ord_wake", 4)
            async with sf() as session, session.begin():
                await add_event(session, outbox, second, topic=topic)
            await eventually(lambda: _has(published, [str(second.id)]), what="a second wake-up")
            # Another process: its rows come through a plain connection (no session to wake anyone), and
            # its relay, standing by, notifies the leader through PostgreSQL.
            other_engine = make_engine(infra.database_url, pool_size=1)
            standby = OutboxRelay(other_engine, outbox, producer, poll_interval_s=3600, fallback_poll_s=3600)
            try:
                third = _cancelled("ord_wake", 5)
                async with other_engine.begin() as conn:
                    await conn.execute(outbox.insert().values(
                        event_id=third.id, topic=topic, key=third.subject, event_type=third.type,
                        payload=third.to_bytes()))
                standby.notify_leader()
                await eventually(lambda: _has(published, [str(third.id)]), what="a wake-up across processes")
            finally:
                await other_engine.dispose()
            events = await read_events(infra.kafka_bootstrap, topic)
            assert [e.payload(OrderCancelled).reason for e in events] == ["#1", "#2", "#3", "#4", "#5"]
        finally:
            relay.stop()
            await asyncio.wait_for(task, 10)
            await engine.dispose()


async def _true(value: bool) -> bool:
    return value


async def _has(fetch, wanted: list[str]) -> bool:
    got = await fetch()
    return all(w in got for w in wanted)


async def test_an_oversized_outbox_row_is_set_aside_and_holds_only_its_own_aggregate(infra):
    async with scratch(infra, "bb_oversized") as (outbox, _, _, topic, sf, producer):
        first, later = _cancelled("ord_big", 1), _cancelled("ord_big", 3)
        huge = Envelope.wrap(OrderCancelled(order_id="ord_big", customer_id="c1", reason="x" * (2 * 1024 * 1024),
                                            cancelled_at=datetime.now(UTC)), source="test", subject="ord_big")
        other = _cancelled("ord_small", 1)
        async with sf() as session, session.begin():
            for env in (first, huge, later, other):
                await add_event(session, outbox, env, topic=topic)
        engine = make_engine(infra.database_url, pool_size=2)
        relay = OutboxRelay(engine, outbox, producer, batch_size=10)
        try:
            for _ in range(4):
                await relay.relay_once()
            assert len(relay.failed) == 1 and "MessageSizeTooLarge" in next(iter(relay.failed.values()))[2]
            published = [e.id for e in await read_events(infra.kafka_bootstrap, topic)]
            assert sorted(map(str, published)) == sorted([str(first.id), str(other.id)])  # `later` waits behind
            async with sf() as session, session.begin():  # an operator discards the poison row
                await session.execute(outbox.update().where(outbox.c.event_id == huge.id).values(sent_at=func.now()))
            relay._counted_at = 0.0
            await relay.relay_once()
            await relay.relay_once()
            published = [str(e.id) for e in await read_events(infra.kafka_bootstrap, topic)]
            assert str(later.id) in published and not relay.failed
        finally:
            await engine.dispose()
