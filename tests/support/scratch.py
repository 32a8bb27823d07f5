"""A scratch schema and topic for a consumer test on the real infrastructure: an `effects` table (one row per
applied event) and an inbox in a schema of its own, a fresh topic with its DLQ."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, NamedTuple

from sqlalchemy import Column, MetaData, String, Table, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backbone.consumer import ConsumerRunner, Handler, RetryPolicy
from backbone.db import inbox_table, make_engine
from backbone.envelope import Envelope
from backbone.kafka import Producer
from backbone.release import ensure_topics
from backbone.topics import TopicSpec, dlq


class ConsumerScratch(NamedTuple):
    engine: AsyncEngine
    effects: Table
    inbox: Table
    topic: str


async def consumer_scratch(infra: Any, schema: str, *, partitions: int = 1) -> ConsumerScratch:
    """(Re)create `schema` with `effects(event_id)` and an inbox; a topic `test.<schema>.<random>` and its DLQ.
    The caller disposes of the engine."""
    md = MetaData(schema=schema)
    effects = Table("effects", md, Column("event_id", String(40)))
    inbox = inbox_table(md)
    engine = make_engine(infra.database_url)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(md.create_all)
    topic = f"test.{schema}.{uuid.uuid4().hex[:8]}"
    await ensure_topics(infra.kafka_bootstrap, [TopicSpec(topic, partitions), TopicSpec(dlq(topic), 1)])
    return ConsumerScratch(engine, effects, inbox, topic)


def effect_recorder(effects: Table) -> Handler:
    """A handler that writes the event's id into the scratch's `effects` (a row per application)."""

    async def record(session: AsyncSession, event: Envelope) -> None:
        await session.execute(effects.insert().values(event_id=str(event.id)))

    return record


def recording_runner(infra: Any, scratch: ConsumerScratch, session_factory: async_sessionmaker[AsyncSession],
                     producer: Producer, *, name: str, group_id: str | None = None,
                     retry: RetryPolicy | None = None) -> ConsumerRunner:
    """A runner of the scratch's topic (group `group_id`, else `name`) that records each `crm.order.cancelled` in
    its `effects`."""
    return ConsumerRunner(name=name, bootstrap=infra.kafka_bootstrap, topics=[scratch.topic],
                          group_id=group_id or name, handlers={"crm.order.cancelled": effect_recorder(scratch.effects)},
                          session_factory=session_factory, inbox=scratch.inbox, producer=producer, retry=retry)


@asynccontextmanager
async def consumer_running(engine: AsyncEngine, schema: str, runner: ConsumerRunner,
                           producer: Producer) -> AsyncIterator[None]:
    """`runner` running for the block; after it, the runner stopped, the producer stopped, the scratch's schema
    dropped and its engine disposed."""
    task = asyncio.create_task(runner.run())
    try:
        yield
    finally:
        runner.stop()
        await task
        await producer.stop()
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()
