"""Transactional outbox: the producer side of the delivery guarantee.

`emit(session, *payloads, subject=...)` writes event rows in the caller's transaction, next to the
state change. The session knows its service's outbox table and source name (`OutboxBinding`, put
in `session.info` by the service's session factory), so no service keeps a copy of this helper. The relay
publishes unsent rows in `seq` order with the idempotent producer (acks=all), waits for every
acknowledgement, then marks them sent. A crash between publish and mark-sent publishes those rows
again on restart (the batch, or the `window` batches of a pipelined pass, below): duplicates, never
losses; the consumers' inbox absorbs them.

The leader's pass (`OutboxRelay._pass`) runs its statements on the lock connection's asyncpg directly
(prepared once, the `seq`s as one array; no SQLAlchemy statement per pass) and hands a batch to the
producer in one call (`Producer.send_many`). It is pipelined on wake-ups: while a batch's acks are
awaited, commits notified meanwhile are read and queued at once (at most `window`, 2, batches in the
producer), each batch marked sent after its own acks, in order; a few acknowledged rows' mark-sent
rides on the next read. A backlog without wake-ups goes one batch at a time. Figures and the profile
that led here: docs/benchmarks.md (2e).

One relay per schema is active at a time (a PostgreSQL advisory lock), so two service instances
never interleave one aggregate's events out of order; the others stand by and take over.

Wake on commit: a session that wrote outbox rows wakes the relay once its transaction commits
(`after_commit`; nothing on a rollback): the relay of the same process directly when it leads,
else that process's standing-by relay sends `pg_notify('outbox_<schema>', '')` in a transaction of
its own. The leader LISTENs on its lock connection and a notification cuts its wait short, so an
event is published a few milliseconds after its commit. (Not a NOTIFY inside the business
transaction: PostgreSQL would serialise every such commit of the database on its WAL flush.)
Polling is only the fallback: every
`fallback_poll_s` (`OUTBOX_FALLBACK_POLL_S`, 30 s in the services) while listening, for rows written without
a notification (by hand, by an older writer), or every `poll_interval_s` where LISTEN is unavailable (a
transaction-mode pooler).
The lock connection runs in autocommit: a pass is one fenced read and one mark-sent statement.

Leadership is fenced: the lock lives on a connection of its own, and every batch is read on that
connection by a statement that checks (`pg_try_advisory_lock`, same statement) that this backend holds the lock. A
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

A leader cut off from Kafka while its database is reachable (a network partition between one
instance and the broker) sees no failure for the producer's request timeout: its sends just wait.
So a batch not queued and acknowledged within `ack_timeout_s` (10 s) fails the pass (`PublishTimeout`,
nothing marked sent past the acknowledged prefix), a failed pass gives up the lock (`reset`), and the
relay then stands by for `ack_timeout_s` before competing again: an instance that reaches the broker
takes over within its 1 s stand-by poll instead of the outbox waiting for the partition to heal (the
drill partition-one, docs/reliability.md). The deposed leader's sends still
queued in its producer may reach the broker once it heals: duplicates, which the inbox absorbs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
import weakref
import zlib
from collections import Counter, deque
from collections.abc import AsyncIterator, Sequence
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
from sqlalchemy import Insert, Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from backbone import metrics
from backbone.arrays import array_params, insert_from_arrays
from backbone.envelope import Envelope
from backbone.events import topic_of
from backbone.kafka import KafkaSecurity, Producer
from backbone.workers import Worker, after_commit

log = logging.getLogger("backbone.outbox")


def _row(envelope: Envelope, topic: str | None = None) -> dict[str, Any]:
    return {
        "event_id": envelope.id,
        "topic": topic or topic_of(envelope.type),
        "key": envelope.subject,
        "event_type": envelope.type,
        "payload": envelope.to_bytes(),
    }


def wake_channel(outbox: Table) -> str:
    """The PostgreSQL notification channel on which a commit that wrote `outbox` rows wakes its relay."""
    return f"outbox_{outbox.schema or 'public'}"


# The relays of this process by channel (a process runs one per schema; the drills run two).
_RELAYS: dict[str, weakref.WeakSet[OutboxRelay]] = {}


def _wake_relay_on_commit(session: AsyncSession, outbox: Table) -> None:
    """Wake the schema's relay once this transaction commits (nothing on a rollback).

    After the commit, never inside it: a NOTIFY in the transaction would take PostgreSQL's
    database-wide notify lock at commit and hold it through the WAL flush, serialising every
    emitting commit of the database on fsync (PostgreSQL's async.c, PreCommit_Notify), and it would
    cost the business transaction a statement.
    The relay of this process is woken directly when it leads; otherwise it sends the leader (in
    another process) a `pg_notify` of its own, one round trip outside any business transaction.
    """
    channel = wake_channel(outbox)
    after_commit(session, ("outbox", channel), functools.partial(wake_relays, channel))


def wake_relays(channel: str) -> None:
    """Rows were committed to the outbox behind `channel`: wake the leading relay of this process, or
    let a standing-by one notify the leader elsewhere."""
    relays = list(_RELAYS.get(channel, ()))
    leaders = [r for r in relays if r.is_leader]
    for relay in leaders:
        relay.wake()
    if not leaders and relays:
        relays[0].notify_leader()


async def add_event(session: AsyncSession, outbox: Table, envelope: Envelope, *, topic: str | None = None) -> None:
    """Write an event row in the caller's transaction; it is published only if that transaction commits."""
    await session.execute(outbox.insert().values(**_row(envelope, topic)))
    _wake_relay_on_commit(session, outbox)


async def add_events(session: AsyncSession, outbox: Table, envelopes: Sequence[Envelope]) -> None:
    """Several events in one statement; `seq` keeps their order, so one aggregate's stay in order."""
    if envelopes:
        await session.execute(outbox.insert(), [_row(e) for e in envelopes])
        _wake_relay_on_commit(session, outbox)


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
        table = binding_of(session).table
        await session.execute(table.insert(), [_row(e, topic) for e in envelopes])
        _wake_relay_on_commit(session, table)


# --- the outbox rows as part of the caller's own statement (one round trip fewer) -------------------


#: The outbox columns a caller's statement writes (`rows_insert`), from one array each (`backbone.arrays`).
_ROW_COLUMNS = ("event_id", "topic", "key", "event_type", "payload")
_ROW_PREFIX = "outbox_"


@functools.cache
def rows_insert(table: Table) -> Insert:
    """`INSERT INTO <outbox> … SELECT … FROM unnest(<five arrays>) WITH ORDINALITY ORDER BY ordinality`:
    the rows of `rows_params`, in their order (`seq` keeps it), for a caller that writes them in a
    statement of its own, e.g. as a data-modifying CTE next to its state change (`Select.add_cte`):
    the same rows and bytes as `emit_envelopes`, without a round trip of their own. Built once per table."""
    return insert_from_arrays(table, _ROW_COLUMNS, prefix=_ROW_PREFIX)


def rows_params(session: AsyncSession, envelopes: Sequence[Envelope]) -> dict[str, list[Any]]:
    """The parameters of `rows_insert` for these envelopes, and the relay woken once this session's
    transaction commits (as `emit` does): the caller executes the statement in that transaction."""
    rows = [_row(e) for e in envelopes]
    if rows:
        _wake_relay_on_commit(session, binding_of(session).table)
    return array_params(rows, _ROW_COLUMNS, prefix=_ROW_PREFIX)


# A row the broker rejects for what it is, not for the broker's state: no retry can publish it.
_ROW_PERMANENT = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError, InvalidTopicError)


class PoisonRow(Exception):
    """One outbox row that can never be published (see `_ROW_PERMANENT`, or its topic is missing)."""


class LostLeadership(Exception):
    """The relay's lock connection no longer holds the schema's relay lock (or is dead)."""


class PublishTimeout(Exception):
    """A batch's sends were not acknowledged within the relay's `ack_timeout_s` (the broker unreachable)."""


async def _driver(conn: AsyncConnection) -> Any:
    """The asyncpg connection under a SQLAlchemy one (the relay's hot statements run on it directly)."""
    return (await conn.get_raw_connection()).driver_connection


def _retrieved(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()  # retrieved: no "exception was never retrieved" for a send the relay gave up on


@dataclass
class _Flight:
    """A batch in the producer, not yet marked sent: its rows, their futures, the task that awaits their acks."""

    rows: list[Any]
    futures: list[asyncio.Future[Any]]
    settle: asyncio.Task[tuple[int, Any, BaseException | None]]

    def abandon(self) -> None:
        """Not to be marked sent (the pass failed or stopped before it): its rows go again (at least once)."""
        self.settle.cancel()
        for fut in self.futures:
            fut.add_done_callback(_retrieved)


# The most acknowledged rows whose mark-sent rides on the next read: the read's snapshot still sees them unsent, so its
# index scan walks past them (and checks each row against the array); a full batch is marked by a statement of its own.
_MARK_WITH_READ = 64


# The relay's statements are planned with their parameters each time (the lock connection's setting; `relay_once` sets
# it for its own transactions on pooled connections, which other statements share): `OutboxRelay.step`.
_PLAN_CACHE_MODE = "plan_cache_mode = force_custom_plan"
_CUSTOM_PLANS = f"SET LOCAL {_PLAN_CACHE_MODE}"


@contextlib.asynccontextmanager
async def _custom_plans(conn: AsyncConnection) -> AsyncIterator[Any]:
    """`conn`'s driver in a transaction that plans its statements with their parameters (`SET LOCAL`: the pooled
    connection's other statements keep their plan cache): `relay_once`'s read and mark-sent, as the lock
    connection plans them."""
    driver = await _driver(conn)
    async with driver.transaction():
        await driver.execute(_CUSTOM_PLANS)
        yield driver


def _relay_statements(schema: str) -> tuple[str, str, str]:
    """The relay's statements as asyncpg runs them (prepared once per connection, asyncpg's statement cache): the
    batch read, plain and fenced, and the mark-sent.

    The read: unsent rows in `seq` order, but not the rows `$1` (set aside, or already in the producer) nor the
    aggregates `$2`/`$3` (topics, keys) held behind a set-aside row, at most `$4` rows. Fenced: read only if this
    backend holds the relay lock `$5`, in the same statement: one row (held, NULL...) when nothing is unsent, no row
    at all when another backend holds it. The check takes the lock once more (`pg_try_advisory_lock`: a session lock
    this backend holds is granted again from its own lock table, without reading the server's; `pg_locks` was read
    whole, every backend's locks, 0.3-6 ms per read under load), so the count grows with every read and `teardown`
    releases them all; a lock this backend had lost and nobody else took is simply this backend's again. And before
    it, the acknowledged rows `$6` are marked sent (a data-modifying `WITH`: the read's snapshot does not see that
    update, hence those rows are in `$1` too; marking acknowledged rows is right whoever holds the lock).
    Mark-sent: one statement for the acknowledged rows, their `seq`s as one array.
    """
    table = '"{}".outbox'.format(schema.replace('"', '""'))
    batch = (f"SELECT seq, topic, key, payload FROM {table} WHERE sent_at IS NULL AND seq <> ALL($1::bigint[])"
             " AND (cardinality($2::text[]) = 0 OR (topic, key) NOT IN"
             " (SELECT * FROM unnest($2::text[], $3::text[])))")
    plain = f"{batch} ORDER BY seq LIMIT $4"
    fenced = (f"WITH marked AS (UPDATE {table} SET sent_at = now() WHERE seq = ANY($6::bigint[]))"
              " SELECT fence.held, batch.seq, batch.topic, batch.key, batch.payload FROM (SELECT true AS held"
              " WHERE pg_try_advisory_lock($5::bigint)) AS fence"
              f" LEFT JOIN LATERAL ({batch} AND fence.held ORDER BY seq LIMIT $4) AS batch ON true"
              " ORDER BY batch.seq")
    mark = f"UPDATE {table} SET sent_at = now() WHERE seq = ANY($1::bigint[])"
    return plain, fenced, mark


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
        listen: bool = True,
        fallback_poll_s: float = 5.0,
        ack_timeout_s: float = 10.0,
        window: int = 2,
        pass_s: float = 1.0,
    ) -> None:
        self.schema = outbox.schema or "public"
        super().__init__(f"outbox-relay-{self.schema}")
        self.engine = engine
        self.outbox = outbox
        self.producer = producer
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s  # between passes when no wake-up can come (LISTEN unavailable)
        self.pending_count_interval_s = pending_count_interval_s
        self.listen = listen
        self.fallback_poll_s = fallback_poll_s  # between passes while LISTENing: only a safety net
        self.ack_timeout_s = ack_timeout_s  # a batch unacknowledged this long fails the pass (and the lock)
        self.window = window  # batches in the producer at once, awaiting their acks (the leader's pass)
        self._flights: deque[_Flight] = deque()  # those batches, oldest first
        self.pass_s = pass_s  # a pass that keeps finding work ends after this long (the worker's heartbeat)
        self._gave_way_until = 0.0  # monotonic: no competing for the lock before (after a PublishTimeout)
        self.channel = wake_channel(outbox)
        self._listening: Any = None  # the asyncpg connection our wake-up listener is on
        self._read_plain_sql, self._read_fenced_sql, self._mark_sql = _relay_statements(self.schema)
        self._notify_task: asyncio.Task[None] | None = None
        self._notify_again = False
        _RELAYS.setdefault(self.channel, weakref.WeakSet()).add(self)
        self._lock_key = zlib.crc32(f"outbox-relay:{self.schema}".encode())
        self._lock_conn: AsyncConnection | None = None
        self._lock_driver: Any = None  # the asyncpg connection under it (the pass's statements run on it)
        self._counted_at = 0.0
        self.pending: int | None = None  # the true backlog at the last count (leader only)
        self.published_total = 0  # rows this relay published (the drills compare relays by it)
        # Rows set aside: seq → (topic, key, error). Their aggregates' later rows wait behind them.
        self.failed: dict[int, tuple[str, str, str]] = {}
        # Fault injection for the crash test: pause after publishing, before marking sent.
        self._pause_after_publish = float(os.environ.get("OUTBOX_RELAY_PAUSE_AFTER_PUBLISH_S", "0"))

    @property
    def in_flight(self) -> int:
        """Rows handed to the producer and not yet marked sent (the leader's pass)."""
        return sum(len(f.rows) for f in self._flights)

    @property
    def is_leader(self) -> bool:
        return self._lock_conn is not None

    async def step(self) -> float:
        if self._lock_conn is None:
            if (giving_way := self._gave_way_until - time.monotonic()) > 0:
                return giving_way  # an instance that reaches the broker takes the lock meanwhile
            conn = await self.engine.connect()
            try:
                # Autocommit: each read or mark is one statement, no BEGIN / COMMIT round trips, and the
                # lock connection is never idle in a transaction.
                await conn.execution_options(isolation_level="AUTOCOMMIT")
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
            # Mark-sent does not wait for the WAL flush: a mark lost in a database crash republishes its rows
            # (at least once, as a relay crash does; the inbox absorbs them), and a pass is one fsync shorter.
            await conn.execute(text("SET synchronous_commit = off"))
            # Each statement planned with its arrays and the table's size now: the prepared mark-sent's generic plan,
            # made while the outbox was a few pages, scanned the whole table to find its rows (`seq = ANY`), which
            # grew with every row kept for retention (9-12 ms per mark at 6,000 rows, docs/benchmarks.md).
            await conn.execute(text(f"SET {_PLAN_CACHE_MODE}"))
            await conn.commit()
            self._lock_conn, self._lock_driver = conn, await _driver(conn)
            metrics.RELAY_LEADER.labels(self.schema).set(1)
            metrics.RELAY_LEADERSHIP_CHANGES.labels(self.schema, "acquired").inc()
            log.info("outbox relay active", extra={"topic": self.schema})
            if self.listen:
                await self._start_listening(conn)
        try:
            more = await self._pass(self._lock_conn)
        except LostLeadership as exc:
            log.warning("outbox relay lost its lock (%s); standing by", exc, extra={"topic": self.schema})
            await self._step_down()
            return 1.0
        except PublishTimeout:
            # The failed pass gives up the lock (`reset`); stand by for as long, so that another instance's
            # 1 s stand-by poll takes it rather than this one again.
            self._gave_way_until = time.monotonic() + self.ack_timeout_s
            raise
        if more:
            return 0.0
        return self.fallback_poll_s if self._listening is not None else self.poll_interval_s

    async def _pass(self, conn: AsyncConnection) -> bool:
        """The leader's pass, pipelined on wake-ups: read a batch (fenced), hand it to the producer, and while its
        acks are awaited, if a commit has woken the relay meanwhile, read and hand over the rows it wrote, up to
        `window` batches in the producer; each batch is marked sent once its acks are in, in order. A commit
        arriving during a pass is so read as soon as the batch before it is queued, not after that batch's acks and
        mark-sent. A backlog without wake-ups (a full batch read) goes one batch at a time, each read after the
        previous one's acks. The mark-sent of a few acknowledged rows rides on the read that follows at once (one
        round trip, `_relay_statements`), else it is a statement of its own before that read or before the pass waits.
        Guarantees as in `relay_once`: a row is marked sent only after its ack; a failed or poisoned batch stops the
        pass, and the batches queued behind it are not marked (they go again: at least once; a relay that dies
        mid-pass publishes again up to `window` batches, not one). Ends when nothing is in the producer and no commit
        is waiting, or after `pass_s` (the heartbeat). Returns whether a full batch was last read (more are waiting)."""
        driver = self._lock_driver
        loop = asyncio.get_running_loop()
        ends = loop.time() + self.pass_s
        flights = self._flights = deque()
        more, woke = True, False  # more: the last read was a full batch; woke: commits notified since the last read
        stalled = False  # a batch's queueing failed: read no further until it settles
        woken: asyncio.Task[Any] | None = None
        to_mark: list[int] = []  # acknowledged rows, marked sent by the next statement on the lock connection
        try:
            while True:
                room = len(flights) < self.window and not stalled and not self.stopping and loop.time() < ends
                read_now = room and (woke or self._wake.is_set() or (more and not flights))
                if to_mark and (not read_now or len(to_mark) > _MARK_WITH_READ):
                    await driver.execute(self._mark_sql, to_mark)
                    to_mark = []
                if read_now:
                    woke = False
                    self._wake.clear()  # this read sees every commit notified so far
                    # The mark-sent of the rows acknowledged since the last read rides on this read: one round trip.
                    marking, to_mark = to_mark, []
                    rows = await self._read(driver, fenced=True, mark=marking,
                                            skip=[*marking, *(r[0] for f in flights for r in f.rows)])
                    if await self._count_pending(conn):
                        await conn.commit()
                    more = len(rows) >= self.batch_size
                    if rows:
                        deadline = loop.time() + self.ack_timeout_s
                        futures, failure = await self._queue(rows)
                        settle = loop.create_task(self._settle(rows, futures, failure, deadline))
                        flights.append(_Flight(rows, futures, settle))
                        stalled = failure is not None
                    continue
                if not flights:
                    return more
                head = flights[0]
                if not head.settle.done():
                    if room and woken is None:
                        woken = loop.create_task(self._wake.wait())
                    await asyncio.wait([head.settle, woken] if room and woken else [head.settle],
                                       return_when=asyncio.FIRST_COMPLETED)
                    if woken is not None and woken.done():
                        woken, woke = None, True  # commits arrived: read them while the head's acks are awaited
                    continue
                flights.popleft()
                done, poison, error = head.settle.result()
                if done:
                    await self._acknowledged(head.rows[:done])
                    to_mark += [r[0] for r in head.rows[:done]]
                if (poison is not None or error is not None) and to_mark:
                    await driver.execute(self._mark_sql, to_mark)
                    to_mark = []
                if poison is not None:
                    self._set_aside(poison, error)
                    return True  # the rest go again, the poisoned aggregate held
                if error is not None:
                    raise error  # transient: the pass fails, backs off, and the unacknowledged rows go again
        finally:
            if woken is not None:
                woken.cancel()
            for flight in flights:
                flight.abandon()
            flights.clear()

    async def _acknowledged(self, rows: Sequence[Any]) -> None:
        """Rows the broker acknowledged, about to be marked sent."""
        self._count_published(rows)
        if self._pause_after_publish:
            log.warning("relay published %d rows; pausing before mark-sent (fault injection)", len(rows))
            await asyncio.sleep(self._pause_after_publish)

    async def _start_listening(self, conn: AsyncConnection) -> None:
        """LISTEN on the lock connection: a commit that wrote outbox rows (`emit`'s `pg_notify`) wakes
        this relay at once. Without it (a pooler that cannot LISTEN) the relay polls every `poll_interval_s`."""
        try:
            driver = await _driver(conn)
            await driver.add_listener(self.channel, self._on_notify)
            self._listening = driver
        except Exception as exc:  # noqa: BLE001 - polling still works
            log.warning("outbox relay cannot LISTEN (%r); polling every %.3fs", exc, self.poll_interval_s,
                        extra={"topic": self.schema})

    def _on_notify(self, *_: object) -> None:
        self.wake()

    def notify_leader(self) -> None:
        """Tell the leading relay (another process) that rows were committed: a `pg_notify` in a
        transaction of its own, without waiting for the WAL flush (a lost wake-up costs one fallback
        poll, never an event). Coalesced: one in flight, at most one more queued behind it."""
        if self._notify_task is not None and not self._notify_task.done():
            self._notify_again = True
            return
        self._notify_task = asyncio.get_running_loop().create_task(self._notify_leader())

    async def _notify_leader(self) -> None:
        channel = self.channel.replace("'", "''")
        while True:
            self._notify_again = False
            try:
                async with self.engine.connect() as conn:
                    driver = await _driver(conn)
                    # Simple query protocol: the four statements in one round trip.
                    await driver.execute(
                        f"BEGIN; SET LOCAL synchronous_commit = off; SELECT pg_notify('{channel}', ''); COMMIT")
            except Exception as exc:  # noqa: BLE001 - the leader's fallback poll still finds the rows
                log.debug("outbox wake-up not sent: %r", exc)
            if not self._notify_again:
                return

    async def _stop_listening(self) -> None:
        driver, self._listening = self._listening, None
        if driver is not None:
            with contextlib.suppress(Exception):  # a dead connection listens no more anyway
                await driver.remove_listener(self.channel, self._on_notify)

    async def _step_down(self) -> None:
        metrics.RELAY_LEADERSHIP_CHANGES.labels(self.schema, "lost").inc()
        await self.teardown()

    async def reset(self) -> None:
        if self._lock_conn is not None:
            metrics.RELAY_LEADERSHIP_CHANGES.labels(self.schema, "lost").inc()
        await self.teardown()  # give up leadership; the next pass competes for it again

    async def teardown(self) -> None:
        conn, self._lock_conn, self._lock_driver = self._lock_conn, None, None
        metrics.RELAY_LEADER.labels(self.schema).set(0)
        if conn is None:
            return
        try:
            await self._stop_listening()  # the connection goes back to the pool: no LISTEN left on it
            await conn.rollback()
            await conn.execute(text("RESET synchronous_commit"))  # nor the relay's asynchronous commits
            await conn.execute(text("RESET plan_cache_mode"))
            # Every hold of the lock (one per fenced read, `_relay_statements`); the connection holds no other.
            await conn.execute(select(func.pg_advisory_unlock_all()))
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

    async def _count_pending(self, conn: AsyncConnection) -> bool:
        """The true backlog (not capped at the batch size), at most once per `pending_count_interval_s`; whether
        it counted."""
        now = time.monotonic()
        if now - self._counted_at < self.pending_count_interval_s:
            return False
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
        return True

    async def _read(self, driver: Any, *, fenced: bool, skip: Sequence[int] = (),
                    mark: Sequence[int] = ()) -> list[Any]:
        """One batch: `(seq, topic, key, payload)` records in `seq` order, skipping `skip` (rows in flight, and those
        being marked). Fenced, the same statement first marks the acknowledged rows `mark` sent."""
        held = {(t, k) for t, k, _ in self.failed.values()}
        args: list[Any] = [[*self.failed, *skip], [t for t, _ in held], [k for _, k in held], self.batch_size]
        if not fenced:
            return list(await driver.fetch(self._read_plain_sql, *args))
        try:
            read = await driver.fetch(self._read_fenced_sql, *args, self._lock_key, mark)
        except Exception as exc:  # a dead lock connection is a lost lock
            raise LostLeadership(f"lock connection failed: {exc!r}") from exc
        if not read:
            raise LostLeadership("the lock is no longer this backend's")
        return [r[1:] for r in read if r[1] is not None]

    async def relay_once(self) -> int:
        """Publish one batch of unsent rows in order, then mark the acknowledged prefix sent, on pooled connections
        and without the lock (tools and tests that run a relay alone; a service's relay runs `step`, the leader's
        pipelined pass on its lock connection). The read and the mark-sent each run in a transaction of their own
        that plans them with their parameters, as the lock connection does (`SET LOCAL`: the pooled connection's
        other statements keep their plan cache). Returns the rows marked sent plus those set aside."""
        async with self.engine.connect() as own:
            async with _custom_plans(own) as driver:
                rows = await self._read(driver, fenced=False)
            await self._count_pending(own)
            await own.rollback()
        if not rows:
            return 0
        done, poison, error = await self._publish(rows)
        if done:
            await self._acknowledged(rows[:done])
            async with self.engine.connect() as mark, _custom_plans(mark) as driver:
                await driver.execute(self._mark_sql, [r[0] for r in rows[:done]])
        if poison is not None:
            self._set_aside(poison, error)
            return done + 1
        if error is not None:
            raise error  # transient: the pass fails, backs off, and the unacknowledged rows go again
        return done

    def _count_published(self, rows: Sequence[Any]) -> None:
        for topic, n in Counter(r[1] for r in rows).items():  # one metric update per topic, not per row
            metrics.OUTBOX_PUBLISHED.labels(self.schema, topic).inc(n)
        self.published_total += len(rows)

    def _set_aside(self, poison: Any, error: BaseException | None) -> None:
        seq, topic, key = poison[0], poison[1], poison[2]
        reason = f"{type(error).__name__}: {error}"[:500]
        self.failed[seq] = (topic, key, reason)
        metrics.OUTBOX_ROWS_FAILED.labels(self.schema, topic).inc()
        metrics.OUTBOX_FAILED_PENDING.labels(self.schema).set(len(self.failed))
        log.error("outbox row %d set aside (its aggregate's later rows wait behind it): %s",
                  seq, reason, extra={"topic": topic})

    async def _queue(self, rows: Sequence[Any]) -> tuple[list[asyncio.Future[Any]], BaseException | None]:
        """Hand `rows` to the producer in order. Returns the futures of the rows queued (a prefix) and the error that
        stopped the queueing at the next row (None: all queued)."""
        futures: list[asyncio.Future[Any]] = []
        # Queueing is bounded with the acknowledgement (`_publish`), so a leader cut off from the broker gives way
        # (module docstring): its producer may wait on metadata or buffer space, not only on acks. One timeout around
        # the whole batch and no yield to the event loop between rows: the producer's sender then finds the batch
        # queued and sends it per partition in one request (no linger: backbone.kafka.Producer).
        try:
            async with asyncio.timeout(self.ack_timeout_s):
                await self.producer.send_many(((r[1], r[2].encode(), r[3]) for r in rows), futures)
        except TimeoutError:
            return futures, PublishTimeout(f"not queued within {self.ack_timeout_s:g} s")
        except Exception as exc:  # noqa: BLE001 - classified by the caller; the prefix still goes out
            return futures, exc
        return futures, None

    async def _settle(self, rows: Sequence[Any], futures: list[asyncio.Future[Any]], failure: BaseException | None,
                      deadline: float) -> tuple[int, Any, BaseException | None]:
        """Wait (until `deadline`, on the event loop's monotonic clock) for the queued prefix's acks. Returns
        (acknowledged prefix length, the poison row or None, the error)."""
        # In order, and only the futures not done yet: a partition's records are acknowledged together, so this
        # waits on about one future per produce batch (`asyncio.wait(futures)` put a callback on every row's).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                for fut in futures:
                    if not fut.done():
                        await asyncio.wait((fut,))
        done = 0
        for fut in futures:
            if not fut.done():
                failure = PublishTimeout(f"not acknowledged within {self.ack_timeout_s:g} s")
                break
            # a send the producer cancelled (it was stopping) failed, as `gather(return_exceptions=True)` had it
            if (err := asyncio.CancelledError() if fut.cancelled() else fut.exception()) is not None:
                failure = err
                break
            done += 1
        if failure is None:
            return done, None, None
        for fut in futures[done:]:  # still in the producer: its outcome no longer matters here
            fut.add_done_callback(_retrieved)
        row = rows[done]
        if not isinstance(failure, PublishTimeout) and await self._row_is_poison(row, failure):
            return done, row, failure
        return done, None, failure

    async def _publish(self, rows: Sequence[Any]) -> tuple[int, Any, BaseException | None]:
        """Send `rows` in order. Returns (acknowledged prefix length, the poison row or None, the error)."""
        deadline = asyncio.get_running_loop().time() + self.ack_timeout_s
        futures, failure = await self._queue(rows)
        return await self._settle(rows, futures, failure, deadline)

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
            return row[1] not in cluster.topics()
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
