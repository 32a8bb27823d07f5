"""Transactional outbox: the producer side of the delivery guarantee.

`emit(session, *payloads, subject=...)` writes event rows in the caller's transaction, next to the
state change. The session knows its service's outbox table and source name (`OutboxBinding`, put
in `session.info` by the service's session factory), so no service keeps a copy of this helper. The relay
publishes unsent rows in `seq` order with the idempotent producer (acks=all), waits for every
acknowledgement, then marks them sent. A crash between publish and mark-sent publishes the batch
again on restart: duplicates, never losses; the consumers' inbox absorbs them.

One relay per schema is active at a time (a PostgreSQL advisory lock), so two service instances
never interleave one aggregate's events out of order; the others stand by and take over.

Leadership is fenced: the lock lives on a connection of its own, and every batch is read on that
connection after checking (`pg_locks`, same round trip) that this backend still holds the lock. A
relay whose lock connection was terminated (`pg_terminate_backend`, an idle-in-transaction timeout,
a pooler handing it to another backend) fails that check or the read, steps down and stands by:
at most the batch already read is published by the old leader after the new one took over
(duplicates, which the inbox absorbs; each leader publishes in `seq` order, so the first copy of an
aggregate's events still arrives in order).

Order and poison rows: a batch is sent in `seq` order and only its acknowledged prefix is marked
sent. A row the broker can never take (over the size limit, a topic that does not exist while the
broker answers) is set aside: logged with its error, counted (`outbox_rows_failed_total`), shown in
the relay's health and /readyz, and skipped from then on; the later rows of the *same aggregate*
(topic, key) are held behind it, so an aggregate's events are never published out of order, while
every other aggregate flows. The set-aside list lives in the relay process: a restart or a new
leader tries the row again once (a durable `failed_at` column is the follow-up, docs/reliability.md);
an operator discards it with `UPDATE <schema>.outbox SET sent_at = now() WHERE seq = …`.
Any other send failure (the broker away) is transient: the pass fails and is retried with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import (
    InvalidTopicError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from pydantic import BaseModel
from sqlalchemy import Table, func, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from backbone import metrics
from backbone.envelope import Envelope
from backbone.events import topic_of
from backbone.kafka import KafkaSecurity, Producer
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


# A row the broker rejects for what it is, not for the broker's state: no retry can publish it.
_ROW_PERMANENT = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError, InvalidTopicError)


class PoisonRow(Exception):
    """One outbox row that can never be published (see `_ROW_PERMANENT`, or its topic is missing)."""


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
        pending_count_interval_s: float = 1.0,
    ) -> None:
        self.schema = outbox.schema or "public"
        super().__init__(f"outbox-relay-{self.schema}")
        self.engine = engine
        self.outbox = outbox
        self.producer = producer
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.pending_count_interval_s = pending_count_interval_s
        self._lock_key = zlib.crc32(f"outbox-relay:{self.schema}".encode())
        self._lock_conn: AsyncConnection | None = None
        self._counted_at = 0.0
        self.pending: int | None = None  # the true backlog at the last count (leader only)
        self.published_total = 0  # rows this relay published (the drills compare relays by it)
        # Rows set aside: seq → (topic, key, error). Their aggregates' later rows wait behind them.
        self.failed: dict[int, tuple[str, str, str]] = {}
        # Fault injection for the crash test: pause after publishing, before marking sent.
        self._pause_after_publish = float(os.environ.get("OUTBOX_RELAY_PAUSE_AFTER_PUBLISH_S", "0"))

    @property
    def is_leader(self) -> bool:
        return self._lock_conn is not None

    async def step(self) -> float:
        if self._lock_conn is None:
            conn = await self.engine.connect()
            try:
                locked = await self._try_lock(conn)
                await conn.commit()  # never idle in a transaction while holding the lock
            except Exception:
                with contextlib.suppress(Exception):
                    await conn.invalidate()
                raise
            if not locked:
                await conn.close()
                return 1.0  # another instance relays; stand by
            # A lock connection left inside a transaction (a relay cancelled mid-read, a leaked
            # connection) is ended by the server, and the session's advisory lock with it.
            await conn.execute(text("SET idle_in_transaction_session_timeout = '30s'"))
            await conn.commit()
            self._lock_conn = conn
            metrics.RELAY_LEADER.labels(self.schema).set(1)
            metrics.RELAY_LEADERSHIP_CHANGES.labels(self.schema, "acquired").inc()
            log.info("outbox relay active", extra={"topic": self.schema})
        if not await self._still_leader():
            log.warning("outbox relay lost its lock; standing by", extra={"topic": self.schema})
            await self._step_down()
            return 1.0
        sent = await self.relay_once(self._lock_conn)
        return 0.0 if sent >= self.batch_size else self.poll_interval_s

    async def _still_leader(self) -> bool:
        """The lock connection is alive and its backend still holds the advisory lock (one round trip)."""
        conn = self._lock_conn
        if conn is None:
            return False
        try:
            held = bool((await conn.execute(text(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND ((classid::bigint << 32) | objid::bigint) = :key)"
            ), {"key": self._lock_key})).scalar())
            await conn.commit()
            return held
        except Exception as exc:  # noqa: BLE001 - a dead lock connection is a lost lock
            log.warning("outbox relay lock connection failed: %r", exc, extra={"topic": self.schema})
            return False

    async def _step_down(self) -> None:
        metrics.RELAY_LEADERSHIP_CHANGES.labels(self.schema, "lost").inc()
        await self.teardown()

    async def reset(self) -> None:
        if self._lock_conn is not None:
            metrics.RELAY_LEADERSHIP_CHANGES.labels(self.schema, "lost").inc()
        await self.teardown()  # give up leadership; the next pass competes for it again

    async def teardown(self) -> None:
        conn, self._lock_conn = self._lock_conn, None
        metrics.RELAY_LEADER.labels(self.schema).set(0)
        if conn is None:
            return
        try:
            await conn.rollback()
            await conn.execute(select(func.pg_advisory_unlock(self._lock_key)))
            await conn.commit()
            await conn.close()
        except BaseException as exc:  # a connection we cannot unlock is thrown away, lock and all
            with contextlib.suppress(Exception):
                raw = await conn.get_raw_connection()
                raw.driver_connection.terminate()  # type: ignore[union-attr]  # socket closed: the backend ends
            with contextlib.suppress(Exception):
                await conn.invalidate()
            if not isinstance(exc, Exception):
                raise  # cancellation goes on

    async def _try_lock(self, conn: AsyncConnection) -> bool:
        return bool((await conn.execute(select(func.pg_try_advisory_lock(self._lock_key)))).scalar())

    def health(self) -> str:
        base = super().health()
        if self.failed:
            return f"{base}; {len(self.failed)} outbox rows set aside (their aggregates held)"
        return base

    async def _count_pending(self, conn: AsyncConnection) -> None:
        """The true backlog (not capped at the batch size), at most once per `pending_count_interval_s`."""
        now = time.monotonic()
        if now - self._counted_at < self.pending_count_interval_s:
            return
        self._counted_at = now
        o = self.outbox
        pending = (await conn.execute(select(func.count()).select_from(o).where(o.c.sent_at.is_(None)))).scalar_one()
        if self.failed:
            # An operator discards a set-aside row by marking it sent: its aggregate flows on.
            still = set((await conn.execute(
                select(o.c.seq).where(o.c.seq.in_(list(self.failed)), o.c.sent_at.is_(None))
            )).scalars())
            for seq in [s for s in self.failed if s not in still]:
                log.warning("outbox row %d was resolved by hand; its aggregate flows on", seq)
                del self.failed[seq]
        self.pending = int(pending)
        metrics.OUTBOX_PENDING.labels(self.schema).set(self.pending)
        metrics.OUTBOX_FAILED_PENDING.labels(self.schema).set(len(self.failed))

    async def relay_once(self, conn: AsyncConnection | None = None) -> int:
        """Publish one batch of unsent rows in order, then mark the acknowledged prefix sent.

        `conn` is the leader's lock connection (the read is fenced by it); without one (tools and
        benchmarks that run a relay alone) a pooled connection is used. Returns the rows marked sent
        plus those set aside.
        """
        o = self.outbox
        query = select(o.c.seq, o.c.topic, o.c.key, o.c.payload).where(o.c.sent_at.is_(None))
        if self.failed:
            query = query.where(
                o.c.seq.not_in(list(self.failed)),
                tuple_(o.c.topic, o.c.key).not_in(list({(t, k) for t, k, _ in self.failed.values()})),
            )
        query = query.order_by(o.c.seq).limit(self.batch_size)
        if conn is None:
            async with self.engine.connect() as own:
                rows: Sequence[Any] = (await own.execute(query)).all()
                await self._count_pending(own)
                await own.rollback()
        else:
            rows = (await conn.execute(query)).all()
            await self._count_pending(conn)
            await conn.commit()
        if not rows:
            return 0
        done, poison, error = await self._publish(rows)
        if done:
            for r in rows[:done]:
                metrics.OUTBOX_PUBLISHED.labels(self.schema, r.topic).inc()
            self.published_total += done
            if self._pause_after_publish:
                log.warning("relay published %d rows; pausing before mark-sent (fault injection)", done)
                await asyncio.sleep(self._pause_after_publish)
            acknowledged = [r.seq for r in rows[:done]]
            async with self.engine.begin() as mark:
                await mark.execute(update(o).where(o.c.seq.in_(acknowledged)).values(sent_at=func.now()))
        if poison is not None:
            reason = f"{type(error).__name__}: {error}"[:500]
            self.failed[poison.seq] = (poison.topic, poison.key, reason)
            metrics.OUTBOX_ROWS_FAILED.labels(self.schema, poison.topic).inc()
            metrics.OUTBOX_FAILED_PENDING.labels(self.schema).set(len(self.failed))
            log.error("outbox row %d set aside (its aggregate's later rows wait behind it): %s",
                      poison.seq, reason, extra={"topic": poison.topic})
            return done + 1
        if error is not None:
            raise error  # transient: the pass fails, backs off, and the unacknowledged rows go again
        return done

    async def _publish(self, rows: Sequence[Any]) -> tuple[int, Any, BaseException | None]:
        """Send `rows` in order. Returns (acknowledged prefix length, the poison row or None, the error)."""
        futures: list[asyncio.Future[Any]] = []
        failure: BaseException | None = None
        for r in rows:
            try:
                futures.append(await self.producer.send(r.topic, r.payload, key=r.key.encode()))
            except Exception as exc:  # noqa: BLE001 - classified below; the prefix still goes out
                failure = exc
                break
        results = await asyncio.gather(*futures, return_exceptions=True)  # acks=all
        done = 0
        for result in results:
            if isinstance(result, BaseException):
                failure = result
                break
            done += 1
        if failure is None:
            return done, None, None
        row = rows[done]
        if await self._row_is_poison(row, failure):
            return done, row, failure
        return done, None, failure

    async def _row_is_poison(self, row: Any, error: BaseException) -> bool:
        if isinstance(error, _ROW_PERMANENT):
            return True
        if isinstance(error, KafkaTimeoutError):
            # No metadata for the topic in time: the broker away (transient) or the topic missing.
            client = getattr(getattr(self.producer, "_producer", None), "client", None)
            if client is None:
                return False
            try:
                cluster = await client.fetch_all_metadata()
            except Exception:  # noqa: BLE001 - the broker is away: transient
                return False
            return row.topic not in cluster.topics()
        return False


async def _relay_main(database_url: str, bootstrap: str, schema: str, batch_size: int) -> None:
    from sqlalchemy import MetaData

    from backbone.db import make_engine, outbox_table

    engine = make_engine(database_url, pool_size=2)
    producer = Producer(bootstrap, client_id=f"relay-{schema}", security=KafkaSecurity.from_env(os.environ))
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
