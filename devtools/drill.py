"""Fault drills on real PostgreSQL and real Apache Kafka (`make drill`, profile "drill": its own data
folder and ports, never the `run` or `test` servers, because the drills stop and kill them).

Each drill runs one lane of the delivery guarantee under steady load and counts at its edges:

    writer (one transaction per event: state + outbox row; "acknowledged" once the commit returned)
      → two outbox relays (two engines: two replicas competing for the schema's relay lock)
      → Kafka topic (4 partitions, 20 aggregates as keys)
      → two consumer runners in one group (two replicas) → inbox claim + effect row, one transaction

and then reads every edge like an auditor: acknowledged writes never applied (lost), effect rows
per event beyond one (duplicated effects), an aggregate's events applied out of commit order
(reordered), copies on the DLQ, records published more than once (relay duplicates, absorbed by
the inbox), writes refused while the database was away (what the API answers 503), and the time
from the end of the fault until the lane applies again (recovery).

The relays and consumers run in this process (the backbone's `OutboxRelay` and `ConsumerRunner`,
as the services run them); the servers are real processes and the faults are real (SIGINT or
SIGKILL to the postmaster, `pg_terminate_backend`, a DLQ topic deleted).

    python -m devtools.drill [--only NAME ...] [--fast] [--table docs/reliability.md]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import BigInteger, Column, Identity, Integer, MetaData, String, Table, func, select, text
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

PROFILE = "drill"
AGGREGATES = 20
RATE_PER_S = 40
TABLE_BEGIN = "<!-- drill-table:begin -->"
TABLE_END = "<!-- drill-table:end -->"

log = logging.getLogger("drill")


def say(msg: str) -> None:
    print(f"[drill] {msg}", file=sys.stderr, flush=True)


@dataclass
class Result:
    drill: str
    fault: str
    load: str
    acknowledged: int = 0
    lost: int = 0
    duplicated_effects: int = 0
    reordered: int = 0
    dead_lettered: int = 0
    relay_duplicates: int = 0
    refused_503: int = 0
    http_500: int = 0
    recovery_s: float | None = None
    notes: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.lost == 0 and self.duplicated_effects == 0 and self.reordered == 0 and self.http_500 == 0
                and not self.failed_checks)


# ---------------------------------------------------------------- the lane


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

    async def write_load(self, seconds: float, rate: float = RATE_PER_S) -> None:
        """One committed transaction per event; an aggregate's `n` grows with its commit order."""
        sf = make_session_factory(self.engine(4))
        deadline = time.monotonic() + seconds
        i = 0
        while time.monotonic() < deadline:
            started = time.monotonic()
            subject = f"ord-{i % AGGREGATES:03d}"
            i += 1
            n = self.seq.get(subject, 0) + 1
            self.seq[subject] = n
            payload = OrderCancelled(order_id=subject, customer_id="c1", reason=str(n), cancelled_at=datetime.now(UTC))
            envelope = Envelope.wrap(payload, source="drill", subject=subject)
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
            n = self.seq.get(subject, 0) + 1
            self.seq[subject] = n
            payload = OrderCancelled(order_id=subject, customer_id="c1", reason=str(n), cancelled_at=datetime.now(UTC))
            envelope = Envelope.wrap(payload, source="drill", subject=subject)
            try:
                await producer.send_and_wait(self.topic, envelope.to_bytes(), key=subject.encode())
                self.acknowledged.add(str(envelope.id))
            except Exception:  # noqa: BLE001 - not acknowledged: not counted
                pass
            await asyncio.sleep(max(0.0, 1 / rate - (time.monotonic() - started)))

    async def applied_count(self) -> int:
        async with self.audit_engine.connect() as conn:
            return int((await conn.execute(select(func.count(func.distinct(self.effects.c.event_id))))).scalar_one())

    async def wait_applied(self, within_s: float) -> float | None:
        """Seconds until every acknowledged event has been applied (None: not within `within_s`)."""
        started = time.monotonic()
        while time.monotonic() - started < within_s:
            with contextlib.suppress(Exception):
                if await self.count_lost() == 0:
                    return time.monotonic() - started
            await asyncio.sleep(0.25)
        return None

    async def count_lost(self) -> int:
        async with self.audit_engine.connect() as conn:
            applied = set((await conn.execute(select(self.effects.c.event_id))).scalars())
        return len(self.acknowledged - applied)

    async def audit(self, result: Result) -> Result:
        async with self.audit_engine.connect() as conn:
            e = self.effects
            rows = (await conn.execute(select(e.c.event_id, e.c.subject, e.c.n).order_by(e.c.applied))).all()
        seen: dict[str, int] = {}
        ids: dict[str, int] = {}
        reordered = 0
        for r in rows:
            ids[r.event_id] = ids.get(r.event_id, 0) + 1
            if r.n < seen.get(r.subject, 0):
                reordered += 1
            seen[r.subject] = max(seen.get(r.subject, 0), r.n)
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


async def read_all(bootstrap: str, topic: str) -> list[str]:
    """Every record's event id on `topic` (the key of the effect), or its raw bytes when not an envelope."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await reader.start()
    try:
        cluster = await reader._client.fetch_all_metadata()
        parts = cluster.partitions_for_topic(topic)
        if not parts:
            return []
        tps = [TopicPartition(topic, p) for p in parts]
        reader.assign(tps)
        await reader.seek_to_beginning(*tps)
        end = await reader.end_offsets(tps)
        out: list[str] = []

        async def behind() -> bool:
            return any([await reader.position(tp) < end[tp] for tp in tps])

        while await behind():
            for msgs in (await reader.getmany(timeout_ms=500)).values():
                for m in msgs:
                    try:
                        out.append(str(json.loads(m.value)["id"]))
                    except Exception:  # noqa: BLE001 - poison: counted by its bytes
                        out.append(repr(m.value[:40]))
        return out
    finally:
        await reader.stop()


# ---------------------------------------------------------------- the servers


def _pg_pid(profile: infra_mod.InfraProfile) -> int:
    return int((profile.data_dir / "pg" / "postmaster.pid").read_text().split()[0])


def pg_stop(profile: infra_mod.InfraProfile, sig: signal.Signals) -> None:
    pid = _pg_pid(profile)
    os.kill(pid, sig)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and infra_mod.port_open("127.0.0.1", profile.pg_port):
        time.sleep(0.1)
    if sig == signal.SIGKILL:
        # The postmaster's children die with it a moment later; the port is then free.
        time.sleep(1.0)


def pg_start(profile: infra_mod.InfraProfile) -> None:
    _, pids = infra_mod.ensure_postgres(profile)
    state = profile.data_dir / "infra.json"  # so `python -m devtools.infra down --profile drill` stops it
    if state.exists() and pids:
        known = json.loads(state.read_text())
        known["pids"] = [p for p in known.get("pids", []) if infra_mod._ours(p, profile.data_dir)] + pids
        state.write_text(json.dumps(known))


# ---------------------------------------------------------------- the drills


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
    async with lane.engines[0].connect() as conn:
        applied = set((await conn.execute(select(lane.effects.c.event_id))).scalars())
    held = len(lane.acknowledged - applied)
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


async def run(only: list[str] | None, fast: bool) -> list[Result]:
    for var in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        os.environ.pop(var, None)  # the drill profile's own servers, never another's
    profile = infra_mod.InfraProfile.named(PROFILE)
    started = await asyncio.to_thread(infra_mod.start, PROFILE)
    urls = (started.database_url, started.kafka_bootstrap)
    drills: dict[str, tuple[bool, Callable[[], Awaitable[Result]]]] = {
        "pg-stop": (False, lambda: drill_pg_outage(urls, profile, sig=signal.SIGINT, outage_s=20, name="pg-stop-20s")),
        "pg-kill": (False, lambda: drill_pg_outage(urls, profile, sig=signal.SIGKILL, outage_s=5, name="pg-kill-9")),
        **{name: (True, partial(fn, urls)) for name, fn in FAST_DRILLS.items()},
    }
    results: list[Result] = []
    for name, (is_fast, drill) in drills.items():
        if only and name not in only:
            continue
        if fast and not is_fast:
            continue
        say(f"== {name}")
        result = await drill()
        say(f"{name}: {json.dumps(asdict(result))}")
        results.append(result)
    return results


FAST_DRILLS: dict[str, Callable[..., Awaitable[Result]]] = {
    "relay-lock": drill_relay_lock_terminated,
    "dlq-missing": drill_dlq_missing,
    "poison-row": drill_poison_row,
}


def table(results: list[Result]) -> str:
    lines = [
        "| drill | fault | load | acknowledged | lost | duplicated effects | reordered | DLQ | relay duplicates"
        " (inbox-absorbed) | refused (503) | 500 | recovery | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rec = f"{r.recovery_s:.1f} s" if r.recovery_s is not None else "none"
        lines.append(
            f"| {r.drill} | {r.fault} | {r.load} | {r.acknowledged} | {r.lost} | {r.duplicated_effects} | {r.reordered}"
            f" | {r.dead_lettered} | {r.relay_duplicates} | {r.refused_503} | {r.http_500} | {rec}"
            f" | {'; '.join(r.notes + [f'FAILED: {c}' for c in r.failed_checks])} |"
        )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"Measured by `python -m devtools.drill` on {stamp}.\n\n" + "\n".join(lines) + "\n"


def write_table(path: Path, results: list[Result]) -> None:
    text_ = path.read_text() if path.exists() else ""
    block = f"{TABLE_BEGIN}\n{table(results)}{TABLE_END}"
    if TABLE_BEGIN in text_ and TABLE_END in text_:
        head, rest = text_.split(TABLE_BEGIN, 1)
        tail = rest.split(TABLE_END, 1)[1]
        text_ = head + block + tail
    else:
        text_ += "\n" + block + "\n"
    path.write_text(text_)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*",
                        help="drills to run (pg-stop, pg-kill, relay-lock, dlq-missing, poison-row)")
    parser.add_argument("--fast", action="store_true", help="only the drills that need no long outage")
    parser.add_argument("--table", type=Path, help="rewrite the drill table in this Markdown file")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    logging.basicConfig(level=os.environ.get("DRILL_LOG_LEVEL", "WARNING"),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    results = asyncio.run(run(args.only, args.fast))
    print(table(results))
    if args.table:
        write_table(args.table, results)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    sys.exit(0 if all(r.ok for r in results) else 1)


if __name__ == "__main__":
    main()
