"""Test helpers that read Kafka the way an auditor would: every partition, from the beginning."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from backbone.envelope import Envelope, parse_envelope


async def read_topic(bootstrap: str, topic: str, *, timeout_s: float = 10.0) -> list[ConsumerRecord]:
    """All records currently in `topic` (up to the end offsets seen at the start)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout_s
        async def behind() -> bool:
            return any([(await consumer.position(tp)) < end[tp] for tp in tps])

        while await behind() and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for msgs in batch.values():
                records.extend(msgs)
        return records
    finally:
        await consumer.stop()


async def read_events(bootstrap: str, topic: str, *, subject: str | None = None,
                      types: set[str] | None = None) -> list[Envelope]:
    out = []
    for r in await read_topic(bootstrap, topic):
        try:
            env = parse_envelope(r.value)
        except Exception:
            continue
        if (subject is None or env.subject == subject) and (types is None or env.type in types):
            out.append(env)
    return out


async def eventually(check: Callable[[], Awaitable[Any]], *, timeout_s: float = 20.0, interval_s: float = 0.2,
                     what: str = "condition") -> Any:
    """Poll an async check until it returns something truthy; fail with `what` after the timeout."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; last value: {last!r}")
