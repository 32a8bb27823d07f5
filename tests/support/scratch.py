"""A scratch schema and topic for a consumer test on the real infrastructure: an `effects` table (one row per
applied event) and an inbox in a schema of its own, a fresh topic with its DLQ."""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

from sqlalchemy import Column, MetaData, String, Table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from backbone.db import inbox_table, make_engine
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
