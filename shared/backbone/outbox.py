"""Transactional outbox: the producer side of the delivery guarantee.

`emit(session, *payloads, subject=...)` writes event rows in the caller's transaction, next to the
state change. The session knows its service's outbox table and source name (`OutboxBinding`, put
in `session.info` by the service's session factory), so no service keeps a copy of this helper. The relay
publishes unsent rows in `seq` order with the idempotent producer (acks=all), waits for every
acknowledgement, then marks them sent. A crash between publish and mark-sent publishes the batch
again on restart: duplicates, never losses; the consumers' inbox absorbs them.

One relay per schema is active at a time (a PostgreSQL advisory lock), so two service instances
never interleave one aggregate's events out of order; the others stand by and take over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from backbone import metrics
from backbone.envelope import Envelope
from backbone.events import topic_of
from backbone.kafka import Producer
from backbone.workers import Worker

log = logging.getLogger("backbone.outbox")


def _row(envelope: Envelope, topic: str | None = None) -> dict[str, Any]:
    return {
        "event_id": envelope.id,
        "topic": topic or topic_of(envelope.type),
        "key": envelope.subject,
        "event_type": envelope.type,
        "payload": envelope.to_bytes(),
    }


async def add_event(session: AsyncSession, outbox: Table, envelope: Envelope, *, topic: str | None = None) -> None:
    """Write an event row in the caller's transaction; it is published only if that transaction commits."""
    await session.execute(outbox.insert().values(**_row(envelope, topic)))


async def add_events(session: AsyncSession, outbox: Table, envelopes: Sequence[Envelope]) -> None:
    """Several events in one statement; `seq` keeps their order, so one aggregate's stay in order."""
    if envelopes:
        await session.execute(outbox.insert(), [_row(e) for e in envelopes])


# --- the service-facing API: the session carries the service's outbox and identity -----------------

OUTBOX_BINDING = "backbone.outbox"


@dataclass(frozen=True)
class OutboxBinding:
    """Which outbox table a service's sessions write to, and the `source` its events carry."""

    table: Table
    source: str


def binding_of(session: AsyncSession) -> OutboxBinding:
    binding = session.info.get(OUTBOX_BINDING)
    if not isinstance(binding, OutboxBinding):
        raise RuntimeError("this session has no outbox: make it with backbone.db.make_session_factory(..., outbox=)")
    return binding


def envelope_for(
    session: AsyncSession, payload: BaseModel, *, subject: str, correlation_id: str | None = None
) -> Envelope:
    """An envelope from this session's service (for callers that collect many before `emit_envelopes`)."""
    return Envelope.wrap(payload, source=binding_of(session).source, subject=subject, correlation_id=correlation_id)


async def emit(
    session: AsyncSession, *payloads: BaseModel, subject: str, correlation_id: str | None = None
) -> list[Envelope]:
    """Write the events of one aggregate (`subject`) in the caller's transaction, in this order."""
    envelopes = [envelope_for(session, p, subject=subject, correlation_id=correlation_id) for p in payloads]
    await emit_envelopes(session, envelopes)
    return envelopes


async def emit_envelopes(session: AsyncSession, envelopes: Sequence[Envelope], *, topic: str | None = None) -> None:
    """Write ready envelopes (one statement); `topic` overrides the registry's (e.g. a DLQ copy)."""
    if envelopes:
        await session.execute(binding_of(session).table.insert(), [_row(e, topic) for e in envelopes])


class OutboxRelay(Worker):
    """A `Worker` whose pass publishes one batch, while it holds the schema's relay lock."""

    def __init__(
        self,
        engine: AsyncEngine,
        outbox: Table,
        producer: Producer,
        *,
        batch_size: int = 500,
        poll_interval_s: float = 0.02,
    ) -> None:
        self.schema = outbox.schema or "public"
        super().__init__(f"outbox-relay-{self.schema}")
        self.engine = engine
        self.outbox = outbox
        self.producer = producer
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self._lock_key = zlib.crc32(f"outbox-relay:{self.schema}".encode())
        self._lock_conn: AsyncConnection | None = None
        # Fault injection for the crash test: pause after publishing, before marking sent.
        self._pause_after_publish = float(os.environ.get("OUTBOX_RELAY_PAUSE_AFTER_PUBLISH_S", "0"))

    async def step(self) -> float:
        if self._lock_conn is None:
            conn = await self.engine.connect()
            if not await self._try_lock(conn):
                await conn.close()
                return 1.0  # another instance relays; stand by
            self._lock_conn = conn
            log.info("outbox relay active", extra={"topic": self.schema})
        sent = await self.relay_once()
        return 0.0 if sent >= self.batch_size else self.poll_interval_s

    async def reset(self) -> None:
        await self.teardown()  # give up leadership; the next pass competes for it again

    async def teardown(self) -> None:
        conn, self._lock_conn = self._lock_conn, None
        if conn is None:
            return
        try:
            await conn.execute(select(func.pg_advisory_unlock(self._lock_key)))
            await conn.close()
        except Exception:  # noqa: BLE001 - a connection we cannot unlock is thrown away, lock and all
            with contextlib.suppress(Exception):
                await conn.invalidate()

    async def _try_lock(self, conn: AsyncConnection) -> bool:
        return bool((await conn.execute(select(func.pg_try_advisory_lock(self._lock_key)))).scalar())

    async def relay_once(self) -> int:
        """Publish one batch of unsent rows in order, then mark them sent. Returns the count."""
        o = self.outbox
        async with self.engine.connect() as conn:
            rows: Sequence[Any] = (
                await conn.execute(
                    select(o.c.seq, o.c.topic, o.c.key, o.c.payload)
                    .where(o.c.sent_at.is_(None))
                    .order_by(o.c.seq)
                    .limit(self.batch_size)
                )
            ).all()
            await conn.rollback()
        metrics.OUTBOX_PENDING.labels(self.schema).set(len(rows))
        if not rows:
            return 0
        futures = [await self.producer.send(r.topic, r.payload, key=r.key.encode()) for r in rows]
        await asyncio.gather(*futures)  # every row acknowledged by the broker (acks=all)
        for r in rows:
            metrics.OUTBOX_PUBLISHED.labels(self.schema, r.topic).inc()
        if self._pause_after_publish:
            log.warning("relay published %d rows; pausing before mark-sent (fault injection)", len(rows))
            await asyncio.sleep(self._pause_after_publish)
        async with self.engine.begin() as conn:
            await conn.execute(update(o).where(o.c.seq.in_([r.seq for r in rows])).values(sent_at=func.now()))
        return len(rows)


async def _relay_main(database_url: str, bootstrap: str, schema: str, batch_size: int) -> None:
    from sqlalchemy import MetaData

    from backbone.db import make_engine, outbox_table

    engine = make_engine(database_url, pool_size=2)
    producer = Producer(bootstrap, client_id=f"relay-{schema}")
    await producer.start()
    relay = OutboxRelay(engine, outbox_table(MetaData(schema=schema)), producer, batch_size=batch_size)
    try:
        await relay.run()
    finally:
        await producer.stop()
        await engine.dispose()


if __name__ == "__main__":
    # A standalone relay for one schema: `python -m backbone.outbox SCHEMA` (DATABASE_URL and
    # KAFKA_BOOTSTRAP_SERVERS from the environment). Services run theirs in-process.
    import sys

    from backbone.logging import configure_logging

    configure_logging(f"relay-{sys.argv[1]}")
    asyncio.run(_relay_main(
        os.environ["DATABASE_URL"], os.environ["KAFKA_BOOTSTRAP_SERVERS"], sys.argv[1],
        int(os.environ.get("OUTBOX_BATCH_SIZE", "500")),
    ))
