"""One lane of the delivery guarantee under load, in the drill process, against real PostgreSQL and Kafka:

    writer (one transaction per event: state + outbox row; "acknowledged" once the commit returned)
      → two outbox relays (two engines: two replicas competing for the schema's relay lock)
      → Kafka topic (4 partitions, 20 aggregates as keys)
      → two consumer runners in one group (two replicas) → inbox claim + effect row, one transaction

then read like an auditor: acknowledged writes never applied (lost), effect rows per event beyond
one (duplicated effects), an aggregate's events applied out of commit order (reordered), copies on
the DLQ, records published more than once (relay duplicates, absorbed by the inbox), writes refused
while the database was away (what the API answers 503), and the time from the end of the fault
until the lane applies again (recovery).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, Identity, Integer, MetaData, String, Table, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from backbone.consumer import ConsumerRunner, RetryPolicy
from backbone.db import inbox_table, make_engine, make_session_factory, outbox_table
from backbone.envelope import Envelope
from backbone.events import OrderCancelled
from backbone.kafka import Producer
from backbone.outbox import OutboxRelay, add_event
from backbone.release import ensure_topics
from backbone.topics import TopicSpec, dlq
from devtools import infra as infra_mod
from devtools.drills.common import Result, pg_start, pg_stop, read_all, say

AGGREGATES = 20
RATE_PER_S = 40

class Lane:
    """One schema (outbox, inbox, effects), one fresh topic, the relays and consumers over them."""

    def __init__(self, database_url: str, bootstrap: str, name: str, *, with_dlq: bool = True) -> None:
        self.database_url = database_url
        self.bootstrap = bootstrap
        self.schema = f"drill_{name}_{uuid.uuid4().hex[:6]}"
        self.topic = f"drill.{name}.{uuid.uuid4().hex[:6]}"
        self.group = f"drill-{name}-{uuid.uuid4().hex[:6]}"
        self.with_dlq = with_dlq
        md = MetaData(schema=self.schema)
        self.outbox, self.inbox = outbox_table(md), inbox_table(md)
        self.effects = Table(
            "effects", md,
            Column("applied", BigInteger, Identity(), primary_key=True),
            Column("event_id", String(40), nullable=False),
            Column("subject", String(40), nullable=False),
            Column("n", Integer, nullable=False),
        )
        self.md = md
        self.engines: list[AsyncEngine] = []
        # The auditor's own connections, opened per question: never a stale one after a restart.
        self.audit_engine = create_async_engine(database_url, poolclass=NullPool)
        self.producers: list[Producer] = []
        self.relays: list[OutboxRelay] = []
        self.consumers: list[ConsumerRunner] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.acknowledged: set[str] = set()
        self.refused = 0
        self.seq: dict[str, int] = {}
        self._writing = False

    def engine(self, pool_size: int = 4) -> AsyncEngine:
        e = make_engine(self.database_url, pool_size=pool_size, connect_timeout_s=2.0)
        self.engines.append(e)
        return e

    async def producer(self) -> Producer:
        p = Producer(self.bootstrap, client_id=f"drill-{self.schema}")
        await p.start()
        self.producers.append(p)
        return p

    async def create(self) -> None:
        engine = self.engine(1)
        async with engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            await conn.run_sync(self.md.create_all)
        specs = [TopicSpec(self.topic, 4)] + ([TopicSpec(dlq(self.topic), 1)] if self.with_dlq else [])
        await ensure_topics(self.bootstrap, specs)

    async def start(self, *, relays: int = 2, consumers: int = 2) -> None:
        for _ in range(relays):
            relay = OutboxRelay(self.engine(), self.outbox, await self.producer(), batch_size=200)
            self.relays.append(relay)
            self.tasks.append(asyncio.create_task(relay.run()))
        for i in range(consumers):
            runner = self._consumer(i, await self.producer())
            self.consumers.append(runner)
            self.tasks.append(asyncio.create_task(runner.run()))

    def _consumer(self, i: int, producer: Producer) -> ConsumerRunner:
        effects = self.effects

        async def apply(session: AsyncSession, event: Envelope) -> None:
            payload = event.payload(OrderCancelled)
            await session.execute(effects.insert().values(
                event_id=str(event.id), subject=event.subject, n=int(payload.reason)))

        engine = self.engine()
        return ConsumerRunner(
            name=f"{self.group}-{i}", bootstrap=self.bootstrap, topics=[self.topic], group_id=self.group,
            handlers={"crm.order.cancelled": apply}, session_factory=make_session_factory(engine),
            inbox=self.inbox, producer=producer, retry=RetryPolicy(max_attempts=5, initial_s=0.2),
        )

    def next_event(self, subject: str) -> Envelope:
        """The aggregate's next event: its `n` (the reason) grows by one, so the consumer side can check order."""
        n = self.seq.get(subject, 0) + 1
        self.seq[subject] = n
        payload = OrderCancelled(order_id=subject, customer_id="c1", reason=str(n), cancelled_at=datetime.now(UTC))
        return Envelope.wrap(payload, source="drill", subject=subject)

    async def write_load(self, seconds: float, rate: float = RATE_PER_S) -> None:
        """One committed transaction per event; an aggregate's `n` grows with its commit order."""
        sf = make_session_factory(self.engine(4))
        deadline = time.monotonic() + seconds
        i = 0
        while time.monotonic() < deadline:
            started = time.monotonic()
            subject = f"ord-{i % AGGREGATES:03d}"
            i += 1
            envelope = self.next_event(subject)
            try:
                async with sf() as session, session.begin():
                    await add_event(session, self.outbox, envelope, topic=self.topic)
                self.acknowledged.add(str(envelope.id))
            except Exception:  # noqa: BLE001 - the database is away: the API would answer 503
                self.refused += 1
            await asyncio.sleep(max(0.0, 1 / rate - (time.monotonic() - started)))

    async def publish_load(self, seconds: float, rate: float = RATE_PER_S / 2) -> None:
        """Events straight onto the topic (another service's relay, whose database is up): records keep
        arriving at the consumers while this lane's database is away. Acknowledged once the broker acked."""
        producer = await self.producer()
        deadline = time.monotonic() + seconds
        i = 0
        while time.monotonic() < deadline:
            started = time.monotonic()
            subject = f"ext-{i % 10:03d}"
            i += 1
            envelope = self.next_event(subject)
            try:
                await producer.send_and_wait(self.topic, envelope.to_bytes(), key=subject.encode())
                self.acknowledged.add(str(envelope.id))
            except Exception:  # noqa: BLE001 - not acknowledged: not counted
                pass
            await asyncio.sleep(max(0.0, 1 / rate - (time.monotonic() - started)))

    async def applied_ids(self) -> Counter[str]:
        """Effect rows per event id, as the auditor reads them (the one count every check uses)."""
        async with self.audit_engine.connect() as conn:
            return Counter((await conn.execute(select(self.effects.c.event_id))).scalars())

    async def applied_count(self) -> int:
        return len(await self.applied_ids())

    async def count_lost(self) -> int:
        return len(self.acknowledged - set(await self.applied_ids()))

    async def wait_applied(self, within_s: float) -> float | None:
        """Seconds until every acknowledged event has been applied (None: not within `within_s`)."""
        started = time.monotonic()
        while time.monotonic() - started < within_s:
            with contextlib.suppress(Exception):
                if await self.count_lost() == 0:
                    return time.monotonic() - started
            await asyncio.sleep(0.25)
        return None

    async def audit(self, result: Result) -> Result:
        async with self.audit_engine.connect() as conn:
            e = self.effects
            rows = (await conn.execute(select(e.c.subject, e.c.n).order_by(e.c.applied))).all()
        seen: dict[str, int] = {}
        reordered = 0
        for r in rows:
            if r.n < seen.get(r.subject, 0):
                reordered += 1
            seen[r.subject] = max(seen.get(r.subject, 0), r.n)
        ids = await self.applied_ids()
        result.acknowledged = len(self.acknowledged)
        result.lost = len(self.acknowledged - set(ids))
        result.duplicated_effects = sum(c - 1 for c in ids.values())
        result.reordered = reordered
        result.refused_503 = self.refused
        published = await read_all(self.bootstrap, self.topic)
        result.relay_duplicates = len(published) - len(set(published))
        result.dead_lettered = len(await read_all(self.bootstrap, dlq(self.topic))) if self.with_dlq else 0
        return result

    async def stop(self) -> None:
        for w in [*self.relays, *self.consumers]:
            w.stop()
        for t in self.tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(t), 10)
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for p in self.producers:
            with contextlib.suppress(Exception):
                await p.stop()
        with contextlib.suppress(Exception):  # the counts are taken: the lane's schema goes
            async with self.audit_engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        for e in [*self.engines, self.audit_engine]:
            with contextlib.suppress(Exception):
                await e.dispose()


async def _recovery_after(lane: Lane, since: float) -> float | None:
    """Seconds from `since` (the fault's end) until the lane applies a newly written event."""
    before: int | None = None
    while before is None and time.monotonic() - since < 120:
        with contextlib.suppress(Exception):
            before = await lane.applied_count()
        await asyncio.sleep(0.1)
    while time.monotonic() - since < 120:
        await asyncio.sleep(0.2)
        with contextlib.suppress(Exception):
            if await lane.applied_count() > (before or 0):
                return time.monotonic() - since
    return None


async def drill_pg_outage(urls: tuple[str, str], profile: infra_mod.InfraProfile, *, sig: signal.Signals,
                          outage_s: float, name: str) -> Result:
    lane = Lane(*urls, name)
    await lane.create()
    await lane.start()
    load_s = 6 + outage_s + 10
    load = asyncio.gather(lane.write_load(load_s), lane.publish_load(load_s))
    await asyncio.sleep(6)
    what = "stopped (SIGINT, fast shutdown)" if sig == signal.SIGINT else "killed -9"
    say(f"{name}: PostgreSQL {what} for {outage_s:.0f}s")
    await asyncio.to_thread(pg_stop, profile, sig)
    paused_seen = False
    t0 = time.monotonic()
    while time.monotonic() - t0 < outage_s:
        await asyncio.sleep(0.5)
        paused_seen = paused_seen or any(c.paused for c in lane.consumers)
    await asyncio.to_thread(pg_start, profile)
    back = time.monotonic()
    say(f"{name}: PostgreSQL back")
    recovery = await _recovery_after(lane, back)
    await load
    drained = await lane.wait_applied(90)
    result = Result(name, f"PostgreSQL {what} {outage_s:.0f} s, restarted",
                    f"{RATE_PER_S}/s writes + {RATE_PER_S // 2}/s published straight to the topic, 30 aggregates,"
                    f" 2 relays, 2 consumers, {load_s:.0f} s")
    result.recovery_s = recovery
    if drained is None:
        result.notes.append("backlog not drained in 90 s")
    result.notes.append(f"consumer reported paused: {'yes' if paused_seen else 'no'}")
    await lane.audit(result)
    await lane.stop()
    return result


def _lock_objid(schema: str) -> int:
    return zlib.crc32(f"outbox-relay:{schema}".encode())


async def drill_relay_lock_terminated(urls: tuple[str, str], *, quick: bool = False) -> Result:
    lane = Lane(*urls, "relaylock")
    await lane.create()
    await lane.start()
    load_s = 8 if quick else 20
    load = asyncio.create_task(lane.write_load(load_s))
    await asyncio.sleep(2 if quick else 5)
    admin = lane.engines[0]
    key = _lock_objid(lane.schema)
    async with admin.connect() as conn:
        pids = list((await conn.execute(text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND ((classid::bigint << 32) | objid::bigint) = :key"), {"key": key})).scalars())
        say(f"relaylock: terminating the relay lock's backend {pids}")
        for pid in pids:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await conn.commit()
    t_fault = time.monotonic()
    recovery = await _recovery_after(lane, t_fault)
    await asyncio.sleep(2)  # one batch may still be in the deposed leader's hands
    before = [r.published_total for r in lane.relays]
    await load
    await lane.wait_applied(60)
    after = [r.published_total for r in lane.relays]
    result = Result("relay-lock-terminated", "pg_terminate_backend of the relay's lock connection",
                    f"{RATE_PER_S}/s writes, 20 aggregates, 2 relays, 2 consumers, {load_s} s")
    result.recovery_s = recovery
    await lane.audit(result)
    leaders = sum(1 for r in lane.relays if r.is_leader)
    publishing = sum(1 for b, a in zip(before, after, strict=True) if a > b)
    result.notes.append(f"relays leading at the end: {leaders}; relays publishing after the fault: {publishing}")
    if leaders > 1 or publishing > 1:
        result.failed_checks.append("two relays publish at once (leadership not fenced)")
    await lane.stop()
    return result


async def drill_poison_row(urls: tuple[str, str], *, quick: bool = False) -> Result:
    """An outbox row over the broker's size limit among the load: it is set aside, its aggregate's
    later rows wait behind it, every other aggregate flows; discarded by hand, the aggregate flows on."""
    lane = Lane(*urls, "poison")
    await lane.create()
    await lane.start()
    load_s = 6 if quick else 15
    load = asyncio.create_task(lane.write_load(load_s))
    await asyncio.sleep(1.5 if quick else 3)
    poison = Envelope.wrap(OrderCancelled(order_id="ord-000", customer_id="c1", reason="0" * (2 * 1024 * 1024),
                                          cancelled_at=datetime.now(UTC)), source="drill", subject="ord-000")
    sf = make_session_factory(lane.engines[0])
    async with sf() as session, session.begin():
        await add_event(session, lane.outbox, poison, topic=lane.topic)
    say("poison: a 2 MB row queued for aggregate ord-000")
    await asyncio.sleep(3 if quick else 6)
    others_flowing = await lane.applied_count()
    await load
    await asyncio.sleep(1.5 if quick else 3)
    held = await lane.count_lost()
    set_aside = sum(len(r.failed) for r in lane.relays)
    async with lane.engines[0].begin() as conn:  # the operator discards the poison row
        await conn.execute(text(f'UPDATE "{lane.schema}".outbox SET sent_at = now() WHERE event_id = :id'),
                           {"id": poison.id})
    resolved = time.monotonic()
    drained = await lane.wait_applied(60)
    result = Result("poison-row", "a 2 MB outbox row (over the broker's 1 MB limit) among the load",
                    f"{RATE_PER_S}/s writes, 20 aggregates, 2 relays, 2 consumers, {load_s} s")
    result.recovery_s = drained if drained is not None else time.monotonic() - resolved
    await lane.audit(result)
    result.notes.append(f"set aside: {set_aside}; held behind it until discarded: {held} (aggregate ord-000 only);"
                        f" other aggregates applied meanwhile: {others_flowing}")
    if set_aside != 1:
        result.failed_checks.append("the poison row was not set aside")
    await lane.stop()
    return result


async def drill_dlq_missing(urls: tuple[str, str], *, quick: bool = False) -> Result:
    """A poison record while its DLQ topic does not exist: the partition pauses on it (no commit
    past it, the loop alive; the runner's other partitions wait for its pass); once the DLQ exists
    the record is dead-lettered and the partition moves on."""
    lane = Lane(*urls, "dlqmissing", with_dlq=False)
    await lane.create()
    await lane.start()
    load_s = 8 if quick else 25
    missing_s = 3 if quick else 8
    load = asyncio.create_task(lane.write_load(load_s))
    await asyncio.sleep(2 if quick else 3)
    sf = make_session_factory(lane.engines[0])
    async with sf() as session, session.begin():
        await session.execute(lane.outbox.insert().values(
            event_id=uuid.uuid4(), topic=lane.topic, key="ord-000", event_type="crm.order.cancelled",
            payload=b'{"not": "an envelope"'))
    say("dlqmissing: poison record queued; its DLQ topic does not exist")
    paused_seen = False
    alive = True
    t0 = time.monotonic()
    while time.monotonic() - t0 < missing_s:
        await asyncio.sleep(0.25)
        paused_seen = paused_seen or any(c.paused for c in lane.consumers)
    alive = all(not t.done() for t in lane.tasks)
    await ensure_topics(lane.bootstrap, [TopicSpec(dlq(lane.topic), 1)])
    lane.with_dlq = True
    say("dlqmissing: DLQ topic created")
    created = time.monotonic()

    async def sample() -> None:
        nonlocal paused_seen
        while True:
            paused_seen = paused_seen or any(c.paused for c in lane.consumers)
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample())
    drained = await lane.wait_applied(90)
    sampler.cancel()
    await load
    await lane.wait_applied(60)
    result = Result("dlq-missing", f"poison record while its DLQ topic is missing for {missing_s} s, then created",
                    f"{RATE_PER_S}/s writes, 20 aggregates, 2 relays, 2 consumers, {load_s} s")
    result.recovery_s = (time.monotonic() - created) if drained is None else drained
    await lane.audit(result)
    result.notes.append(f"partition paused: {'yes' if paused_seen else 'no'}; loops alive: {'yes' if alive else 'NO'}")
    await lane.stop()
    return result


FAST_DRILLS: dict[str, Callable[..., Awaitable[Result]]] = {
    "relay-lock": drill_relay_lock_terminated,
    "dlq-missing": drill_dlq_missing,
    "poison-row": drill_poison_row,
}


def slow_drills(urls: tuple[str, str], profile: infra_mod.InfraProfile) -> dict[str, Callable[[], Awaitable[Result]]]:
    return {
        "pg-stop": lambda: drill_pg_outage(urls, profile, sig=signal.SIGINT, outage_s=20, name="pg-stop-20s"),
        "pg-kill": lambda: drill_pg_outage(urls, profile, sig=signal.SIGKILL, outage_s=5, name="pg-kill-9"),
    }
