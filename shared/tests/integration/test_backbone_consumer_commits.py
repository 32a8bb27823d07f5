"""Offsets kept between commits (`ConsumerRunner.commit_interval_s`) still reach the group, on real Kafka and
PostgreSQL: a rebalance sends the kept offsets of the partitions it takes before the group rejoins, and a stop
sends the rest, so the partitions' next owner starts after what was applied. Here the interval is an hour, so
nothing but those two moments can have sent them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from backbone.consumer import ConsumerRunner
from backbone.db import make_session_factory
from backbone.envelope import Envelope
from backbone.events import OrderCancelled
from backbone.kafka import Producer
from backbone.ops import kafka_status
from tests.support.kafka_tools import eventually
from tests.support.scratch import consumer_scratch, recording_runner

pytestmark = pytest.mark.asyncio(loop_scope="session")

SCHEMA = "bb_consumer_commits"
GROUP = "bb-commits"


async def test_kept_offsets_are_committed_before_a_rebalance_and_at_stop(infra) -> None:
    scratch = await consumer_scratch(infra, SCHEMA, partitions=2)
    engine, effects, _inbox, topic = scratch
    sf = make_session_factory(engine)
    producer = Producer(infra.kafka_bootstrap)
    await producer.start()

    def runner(name: str) -> ConsumerRunner:
        r = recording_runner(infra, scratch, sf, producer, name=name, group_id=GROUP)
        r.commit_interval_s = 3600.0  # only the first pass's offsets go at once; then a rebalance or a stop
        return r

    async def send(n: int) -> None:
        for i in range(n):
            subject = f"ord_commit_{datetime.now(UTC).timestamp()}_{i}"
            event = Envelope.wrap(OrderCancelled(order_id=subject, customer_id="c1", reason="commit",
                                                 cancelled_at=datetime.now(UTC)), source="test", subject=subject)
            await producer.send_and_wait(topic, event.to_bytes(), key=subject.encode())

    async def applied() -> int:
        async with sf() as s:
            return int((await s.execute(select(func.count()).select_from(effects))).scalar_one())

    async def committed_and_end() -> dict[int, tuple[int | None, int]]:
        status = await kafka_status(infra.kafka_bootstrap, {GROUP: [topic]}, [])
        return {p.partition: (p.committed, p.end) for p in status.lags[GROUP]}

    async def all_committed() -> bool:
        return all(c == e for c, e in (await committed_and_end()).values())

    first, second = runner("bb-commits-1"), runner("bb-commits-2")
    tasks = [asyncio.create_task(first.run())]
    try:
        await send(1)
        await eventually(lambda: _equals(applied, 1), what="the first record applied", timeout_s=60)
        await send(6)  # both partitions; applied by `first`, their offsets kept
        await eventually(lambda: _equals(applied, 7), what="seven records applied", timeout_s=60)
        await asyncio.sleep(0.5)
        assert not await all_committed(), "kept, not committed yet"

        tasks.append(asyncio.create_task(second.run()))  # the group rebalances: `first` revokes both partitions
        await eventually(lambda: _assigned(second), what="the second member given a partition", timeout_s=60)
        assert await all_committed(), f"committed before the rebalance: {await committed_and_end()}"

        await send(6)  # now split between the two members, each keeping what it applied
        await eventually(lambda: _equals(applied, 13), what="thirteen records applied", timeout_s=60)
        for member in (first, second):
            member.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
        tasks.clear()
        assert await all_committed(), f"committed at stop: {await committed_and_end()}"
        assert await applied() == 13  # each record applied once
    finally:
        for member in (first, second):
            member.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        await producer.stop()
        await engine.dispose()


async def _equals(count: object, expected: int) -> bool:
    return await count() == expected  # type: ignore[operator,no-any-return]


async def _assigned(runner: ConsumerRunner) -> bool:
    return runner._consumer is not None and bool(runner._consumer.assignment())
