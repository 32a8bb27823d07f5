"""Transactional outbox: the producer side of the delivery guarantee.

`add_event` writes an event row in the caller's transaction, next to the state change. The relay
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
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from backbone import metrics
from backbone.envelope import Envelope
from backbone.events import topic_of
from backbone.kafka import Producer

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


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        outbox: Table,
        producer: Producer,
        *,
        batch_size: int = 500,
        poll_interval_s: float = 0.02,
    ) -> None:
        self.engine = engine
        self.outbox = outbox
        self.producer = producer
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.schema = outbox.schema or "public"
        self._lock_key = zlib.crc32(f"outbox-relay:{self.schema}".encode())
        self._stopping = asyncio.Event()
        # Fault injection for the crash test: pause after publishing, before marking sent.
        self._pause_after_publish = float(os.environ.get("OUTBOX_RELAY_PAUSE_AFTER_PUBLISH_S", "0"))

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                async with self.engine.connect() as lock_conn:
                    if not await self._try_lock(lock_conn):
                        await self._sleep(1.0)  # another instance relays; stand by
                        continue
                    log.info("outbox relay active", extra={"topic": self.schema})
                    await self._relay_while_leader()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying")
                await self._sleep(1.0)

    async def _try_lock(self, conn: AsyncConnection) -> bool:
        return bool((await conn.execute(select(func.pg_try_advisory_lock(self._lock_key)))).scalar())

    async def _relay_while_leader(self) -> None:
        while not self._stopping.is_set():
            sent = await self.relay_once()
            if sent < self.batch_size:
                await self._sleep(self.poll_interval_s)

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

    async def purge_sent(self, older_than_hours: float = 24) -> int:
        o = self.outbox
        async with self.engine.begin() as conn:
            res = await conn.execute(
                o.delete().where(o.c.sent_at < func.now() - func.make_interval(0, 0, 0, 0, older_than_hours))
            )
        return int(res.rowcount or 0)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)


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
