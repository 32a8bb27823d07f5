"""The floor of one Kafka hop: what producing, relaying and consuming an event cost on this stack, nothing of ours.

The companion of `bench.floor` (a POST that writes rows) for the rest of an order's chain (relay → Kafka →
consumer → its transaction). Only the Kafka clients as the services configure them (`backbone.kafka.Producer`:
acks=all, idempotent, no linger; `backbone.kafka.make_consumer`: a group, read_committed, manual commit), asyncpg
directly, throwaway tables and topics (the partition count of crm.orders), a ~600-byte order-event JSON per record
with a random uuid key. Each variant runs in a process of its own (this module, `--child`), so that its CPU is
its process alone (PostgreSQL and Kafka are this process's children); it warms up, then the window measures N
records (`--records`, 20,000), with the CPU-ms per record of that process, of PostgreSQL and of the broker:

  produce          batches of 500 as the outbox relay hands them over (`Producer.send_many`: all 500 queued
                   without yielding, then their acks awaited, in order, only the futures not done yet), the
                   next batch after the acks: about one produce request per batch (`produce_requests`)
  produce/send     the same batches, each record queued by `await Producer.send` (the per-record path)
  relay            rows pre-written to a plain table (id bigserial, event_id uuid, key text, payload jsonb,
                   sent_at; a partial index on the unsent ids, as the outbox's), then one batch at a time on one
                   autocommit connection (synchronous_commit off, as the relay's lock connection): `SELECT … WHERE
                   sent_at IS NULL ORDER BY id LIMIT 500`, produced as `produce`, `UPDATE … SET sent_at = now()
                   WHERE id = ANY($1)` after the acks: 2 statements and about one produce request per 500 rows
  consume          the records of `produce`, a consumer group reading them as `backbone.consumer` does (a poll of
                   at most 500 per assigned partition, its partitions applied side by side, one offset commit
                   per poll); each value json.loads'ed, every run of up to 100 records of one partition ONE
                   transaction (BEGIN, a multi-row inbox claim from arrays `ON CONFLICT DO NOTHING RETURNING
                   event_id`, a multi-row insert of one target row per claimed record from arrays, COMMIT: 4
                   round trips per run)
  lone             the same relay and consume, one record at a time at a low rate (`LONE_RATE`, 20/s, `LONE_RECORDS`
                   per window): a relay pass per row (`LIMIT 1`, one produce request, the mark), the consumer's
                   fetch answered with that one record, its transaction of 4 round trips; offsets committed at most
                   every `backbone.consumer.COMMIT_INTERVAL_S`, as the runner does. What a hop costs when nothing
                   shares a batch: an order's chain at 10 orders/s is made of such hops
  lone/read        as `lone`, the consumer only parsing each record (no transaction): a record a consumer reads
                   and lets go (an event type it does not handle, a hub with no subscription)
  lone/relay       as `lone` with no consumer: the relay's pass alone, per record

`python -m bench.floor_hop [--records 20000]`; figures in bench/results/floor_hop.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from backbone.kafka import Producer, make_consumer
from backbone.topics import ALL_TOPICS, CRM_ORDERS, TopicSpec
from bench.common import BenchEnv, CpuMeter, infra_roots, write_result
from devtools.infra import PROJECT_ROOT

PARTITIONS = next(s.partitions for s in ALL_TOPICS if s.name == CRM_ORDERS)
TOPIC, SEND_TOPIC, RELAY_TOPIC = "floor.hop", "floor.hop.send", "floor.hop.relay"
BATCH = 500  # the relay's batch (OutboxRelay.batch_size)
RUN = 100  # a consumer's run of one partition's records in one transaction (ConsumerRunner.batch_size)
POLL_MAX = min(4000, max(500, RUN) * PARTITIONS)  # ConsumerRunner._poll_records
WARMUP = 5000
GROUP = "floor-hop"
VARIANTS = ("produce", "produce/send", "relay", "consume", "lone", "lone/read", "lone/relay")
LONE_TOPICS = {"lone": "floor.hop.lone", "lone/read": "floor.hop.lone.read", "lone/relay": "floor.hop.lone.relay"}
LONE_RATE = 20.0  # records/s: each alone in its relay pass, its fetch and its transaction
LONE_RECORDS, LONE_WARMUP = 400, 60

OUTBOX, INBOX, TARGET = "floor_hop_outbox", "floor_hop_inbox", "floor_hop_target"
READ = "SELECT id, key, payload FROM {outbox} WHERE sent_at IS NULL ORDER BY id LIMIT $1"  # .format(outbox=…)
MARK = "UPDATE {outbox} SET sent_at = now() WHERE id = ANY($1::bigint[])"
CLAIM = (f"INSERT INTO {INBOX} (event_id, consumer, event_type) SELECT * FROM unnest($1::uuid[], $2::text[], "
         "$3::text[]) ON CONFLICT DO NOTHING RETURNING event_id::text")
APPLY = (f"INSERT INTO {TARGET} (event_id, order_id, customer_id, status, items) SELECT * FROM unnest($1::uuid[], "
         "$2::text[], $3::text[], $4::text[], $5::int[])")


def _event() -> tuple[str, bytes]:
    """A random key and a ~600-byte JSON value shaped like an order event (envelope and order)."""
    key, now = str(uuid.uuid4()), datetime.now(UTC).isoformat()
    value = {
        "specversion": "1.0", "id": str(uuid.uuid4()), "source": "crm", "type": "crm.order.submitted",
        "subject": key, "time": now, "correlation_id": uuid.uuid4().hex,
        "data": {"order_id": key, "customer_id": "cust-00012345", "channel": "account_manager",
                 "status": "submitted", "submitted_at": now,
                 "items": [{"product": "broadband-500m", "business_kind": "opening", "quantity": 1,
                            "attributes": {"address": "12 Harbour Road, Unit 4", "bandwidth_mbps": 500,
                                           "sla_class": "gold"}}]},
    }
    return key, json.dumps(value, separators=(",", ":")).encode()


def _events(n: int) -> list[tuple[str, bytes]]:
    return [_event() for _ in range(n)]


# --- the child: one variant in a process of its own ------------------------------------------------------------


class Protocol:
    """The child's side of the window: `ready` once warmed up, the parent's `go` starts the window, `done` ends it,
    the parent's `stop` lets the child shut its clients down outside the window."""

    @staticmethod
    def say(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    @staticmethod
    def hear(expected: str) -> None:
        line = sys.stdin.readline().strip()
        if line != expected:
            raise RuntimeError(f"expected {expected!r} from the parent, got {line!r}")


def _count_requests(producer: Producer) -> list[int]:
    """A counter of the produce requests the producer's sender sends (one per broker per send of ready batches)."""
    sender = producer._producer._sender
    count = [0]
    original: Callable[..., Awaitable[Any]] = sender._send_produce_req

    async def counted(node_id: int, batches: Any) -> Any:
        count[0] += 1
        return await original(node_id, batches)

    sender._send_produce_req = counted
    return count


async def _acks(futures: Sequence[asyncio.Future[Any]]) -> None:
    """Wait for a batch's acks as the relay does (`OutboxRelay._settle`): in order, only the futures not done yet,
    then each checked."""
    for fut in futures:
        if not fut.done():
            await asyncio.wait((fut,))
    for fut in futures:
        if (err := fut.exception()) is not None:
            raise err


async def _produce(producer: Producer, topic: str, records: Sequence[tuple[str, bytes]], per_record: bool) -> list[Any]:
    """`records` in batches of BATCH, each batch's acks awaited before the next; the acks' metadata."""
    metadata: list[Any] = []
    for start in range(0, len(records), BATCH):
        futures: list[asyncio.Future[Any]] = []
        batch = records[start:start + BATCH]
        if per_record:
            for key, value in batch:
                futures.append(await producer.send(topic, value, key=key.encode()))
        else:
            await producer.send_many(((topic, key.encode(), value) for key, value in batch), futures)
        await _acks(futures)
        metadata.extend(f.result() for f in futures)
    return metadata


async def child_produce(bootstrap: str, records: int, per_record: bool) -> None:
    topic = SEND_TOPIC if per_record else TOPIC
    warm, measured = _events(WARMUP), _events(records)
    producer = Producer(bootstrap, client_id="floor-hop")
    await producer.start()
    try:
        await producer.partitions_for(topic)
        acks = await _produce(producer, topic, warm, per_record)
        boundaries: dict[int, int] = {p: 0 for p in range(PARTITIONS)}
        for meta in acks:
            boundaries[meta.partition] = max(boundaries[meta.partition], meta.offset + 1)
        requests = _count_requests(producer)
        Protocol.say("ready")
        Protocol.hear("go")
        acks = await _produce(producer, topic, measured, per_record)
        Protocol.say("done " + json.dumps({"records": len(acks), "batches": -(-records // BATCH),
                                           "produce_requests": requests[0], "boundaries": boundaries}))
        Protocol.hear("stop")
    finally:
        await producer.stop()


async def _outbox_with_rows(conn: Any, outbox: str, n: int) -> None:
    """A new outbox table (the relay's shape: a partial index on the unsent ids) holding `n` unsent rows."""
    await conn.execute(f"DROP TABLE IF EXISTS {outbox}")
    await conn.execute(f"CREATE TABLE {outbox} (id bigserial PRIMARY KEY, event_id uuid NOT NULL,"
                       " key text NOT NULL, payload jsonb NOT NULL, sent_at timestamptz)")
    await conn.execute(f"CREATE INDEX {outbox}_unsent ON {outbox} (id) WHERE sent_at IS NULL")
    rows = _events(n)
    for start in range(0, len(rows), 5000):
        chunk = rows[start:start + 5000]
        await conn.execute(f"INSERT INTO {outbox} (event_id, key, payload) SELECT * FROM unnest($1::uuid[],"
                           " $2::text[], $3::jsonb[])", [json.loads(v)["id"] for _, v in chunk],
                           [k for k, _ in chunk], [v.decode() for _, v in chunk])
    await conn.execute(f"VACUUM ANALYZE {outbox}")


async def _relay_pass(conn: Any, producer: Producer, outbox: str, topic: str, limit: int) -> int:
    """One relay pass: up to `limit` unsent rows read, produced, their acks awaited, marked sent; how many."""
    batch = await conn.fetch(READ.format(outbox=outbox), limit)
    if batch:
        futures: list[asyncio.Future[Any]] = []
        await producer.send_many(((topic, r[1].encode(), r[2].encode()) for r in batch), futures)
        await _acks(futures)
        await conn.execute(MARK.format(outbox=outbox), [r[0] for r in batch])
    return len(batch)


async def child_relay(dsn: str, bootstrap: str, records: int) -> None:
    conn = await asyncpg.connect(dsn)
    producer = Producer(bootstrap, client_id="floor-hop-relay")
    await producer.start()
    try:
        await _outbox_with_rows(conn, OUTBOX, WARMUP + records)
        await conn.execute("SET synchronous_commit = off")  # the relay's lock connection (OutboxRelay.step)
        await producer.partitions_for(RELAY_TOPIC)

        async def relay(total: int) -> tuple[int, int]:
            sent = reads = 0
            while sent < total:
                reads += 1
                if not (relayed := await _relay_pass(conn, producer, OUTBOX, RELAY_TOPIC, min(BATCH, total - sent))):
                    break
                sent += relayed
            return sent, reads

        await relay(WARMUP)
        requests = _count_requests(producer)
        Protocol.say("ready")
        Protocol.hear("go")
        sent, reads = await relay(records)
        Protocol.say("done " + json.dumps({"records": sent, "batches": reads, "produce_requests": requests[0]}))
        Protocol.hear("stop")
        unsent = await conn.fetchval(f"SELECT count(*) FROM {OUTBOX} WHERE sent_at IS NULL")
        if unsent:
            raise RuntimeError(f"{unsent} rows left unsent")
    finally:
        await producer.stop()
        await conn.close()


class Applier:
    """One poll's records applied per partition, side by side, each run of up to RUN records one transaction."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.applied = self.transactions = 0

    async def run(self, msgs: Sequence[ConsumerRecord]) -> None:
        events = [json.loads(m.value) for m in msgs]
        async with self.pool.acquire() as conn, conn.transaction():
            claimed = {r[0] for r in await conn.fetch(CLAIM, [e["id"] for e in events], [GROUP] * len(events),
                                                      [e["type"] for e in events])}
            new = [e for e in events if e["id"] in claimed]
            if new:
                data = [e["data"] for e in new]
                await conn.execute(APPLY, [e["id"] for e in new], [d["order_id"] for d in data],
                                   [d["customer_id"] for d in data], [d["status"] for d in data],
                                   [len(d["items"]) for d in data])
        self.applied += len(new)
        self.transactions += 1

    async def partition(self, msgs: list[ConsumerRecord]) -> int:
        for start in range(0, len(msgs), RUN):
            await self.run(msgs[start:start + RUN])
        return int(msgs[-1].offset) + 1

    async def poll(self, consumer: AIOKafkaConsumer, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        tps = [tp for tp, msgs in batches.items() if msgs]
        offsets = await asyncio.gather(*(self.partition(batches[tp]) for tp in tps))
        if tps:
            await consumer.commit(dict(zip(tps, offsets, strict=True)))


async def _consumer_tables(conn: Any) -> None:
    """The consumer's inbox and target tables, new."""
    for table in (INBOX, TARGET):
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
    await conn.execute(f"CREATE TABLE {INBOX} (event_id uuid, consumer text, event_type text NOT NULL,"
                       " received_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (event_id, consumer))")
    await conn.execute(f"CREATE TABLE {TARGET} (event_id uuid PRIMARY KEY, order_id text NOT NULL,"
                       " customer_id text NOT NULL, status text NOT NULL, items int NOT NULL,"
                       " created_at timestamptz NOT NULL DEFAULT now())")


async def child_consume(dsn: str, bootstrap: str, records: int, boundaries: dict[int, int]) -> None:
    from backbone.consumer import hold_fetches_while_records_wait

    pool = await asyncpg.create_pool(dsn, min_size=PARTITIONS, max_size=PARTITIONS)
    async with pool.acquire() as conn:
        await _consumer_tables(conn)
    consumer = make_consumer(bootstrap, TOPIC, group_id=GROUP, client_id="floor-hop")
    await consumer.start()
    hold_fetches_while_records_wait(consumer)
    applier = Applier(pool)
    try:
        # Warm-up: the records before each partition's boundary (the producer's warm-up), then every partition paused
        # and put back at its boundary (what was fetched past it is dropped), the boundaries committed.
        done: set[int] = set()
        deadline = time.monotonic() + 120
        while len(done) < PARTITIONS:
            if time.monotonic() > deadline:
                raise RuntimeError(f"warm-up: partitions {sorted(done)} of {PARTITIONS} reached their boundary")
            batches = await consumer.getmany(timeout_ms=1000, max_records=POLL_MAX)
            take: dict[TopicPartition, list[ConsumerRecord]] = {}
            for tp in consumer.assignment():
                if tp.partition in done:
                    continue
                edge = boundaries[tp.partition]
                msgs = batches.get(tp, [])
                take[tp] = [m for m in msgs if m.offset < edge]
                reached = edge == 0 or (msgs and msgs[-1].offset >= edge - 1)
                if reached:
                    consumer.pause(tp)
                    consumer.seek(tp, edge)
                    done.add(tp.partition)
            await applier.poll(consumer, take)
        await consumer.commit({tp: boundaries[tp.partition] for tp in consumer.assignment()})
        warmed = applier.applied
        if warmed != WARMUP:
            raise RuntimeError(f"warm-up applied {warmed} records, not {WARMUP}")
        applier.applied = applier.transactions = 0
        polls = 0
        Protocol.say("ready")
        Protocol.hear("go")
        consumer.resume(*consumer.assignment())
        while applier.applied < records:
            # As ConsumerRunner.step: what the fetcher holds at once, else wait for records.
            batches = await consumer.getmany(timeout_ms=0, max_records=POLL_MAX)
            if not batches:
                batches = await consumer.getmany(timeout_ms=30000, max_records=POLL_MAX)
                if not batches:
                    raise RuntimeError(f"no records after {applier.applied} of {records}")
            polls += 1
            await applier.poll(consumer, batches)
        Protocol.say("done " + json.dumps({"records": applier.applied, "polls": polls,
                                           "transactions": applier.transactions}))
        Protocol.hear("stop")
    finally:
        await consumer.stop()
        await pool.close()


async def child_lone(dsn: str, bootstrap: str, records: int, variant: str) -> None:
    """Rows relayed one per pass at LONE_RATE and consumed as they come (each record alone in its fetch): applied
    (`lone`), parsed only (`lone/read`) or not consumed at all (`lone/relay`)."""
    from backbone.consumer import COMMIT_INTERVAL_S

    topic, apply, consuming = LONE_TOPICS[variant], variant == "lone", variant != "lone/relay"
    outbox = f"{OUTBOX}_lone"
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=2)
    relay_conn = await asyncpg.connect(dsn)
    async with pool.acquire() as conn:
        await _consumer_tables(conn)
        await _outbox_with_rows(conn, outbox, LONE_WARMUP + records)
    await relay_conn.execute("SET synchronous_commit = off")
    producer = Producer(bootstrap, client_id="floor-hop-lone")
    await producer.start()
    await producer.partitions_for(topic)
    consumer = make_consumer(bootstrap, topic, group_id=f"{GROUP}-{topic}", client_id="floor-hop-lone")
    if consuming:
        await consumer.start()
    applier = Applier(pool)
    seen = [0]
    polls = [0]

    async def relay(n: int) -> None:
        started = time.monotonic()
        for i in range(n):
            await asyncio.sleep(max(0.0, started + i / LONE_RATE - time.monotonic()))
            await _relay_pass(relay_conn, producer, outbox, topic, 1)

    async def consume(until: int) -> None:
        if not consuming:
            seen[0] = until
            return
        committed_at, offsets = float("-inf"), dict[TopicPartition, int]()
        while seen[0] < until:
            batches = await consumer.getmany(timeout_ms=0, max_records=POLL_MAX)
            if not batches:
                wait_s = 30.0 if not offsets else max(0.0, committed_at + COMMIT_INTERVAL_S - time.monotonic())
                batches = await consumer.getmany(timeout_ms=int(wait_s * 1000), max_records=POLL_MAX)
            polls[0] += bool(batches)
            for tp, msgs in batches.items():
                if apply:
                    offsets[tp] = await applier.partition(msgs)
                else:
                    for m in msgs:
                        json.loads(m.value)
                    offsets[tp] = int(msgs[-1].offset) + 1
                seen[0] += len(msgs)
            if offsets and time.monotonic() - committed_at >= COMMIT_INTERVAL_S:
                await consumer.commit(offsets)
                committed_at, offsets = time.monotonic(), {}
        if offsets:
            await consumer.commit(offsets)

    try:
        await asyncio.gather(relay(LONE_WARMUP), consume(LONE_WARMUP))
        applier.applied = applier.transactions = polls[0] = 0
        requests = _count_requests(producer)
        Protocol.say("ready")
        Protocol.hear("go")
        await asyncio.gather(relay(records), consume(LONE_WARMUP + records))
        Protocol.say("done " + json.dumps({"records": seen[0] - LONE_WARMUP, "polls": polls[0],
                                           "transactions": applier.transactions, "batches": records,
                                           "produce_requests": requests[0]}))
        Protocol.hear("stop")
    finally:
        await consumer.stop()  # also when never started: it closes its client
        await producer.stop()
        await relay_conn.close()
        await pool.close()


def child(variant: str, records: int, boundaries: str) -> None:
    dsn, bootstrap = os.environ["FLOOR_DSN"], os.environ["FLOOR_BOOTSTRAP"]
    if variant in ("produce", "produce/send"):
        asyncio.run(child_produce(bootstrap, records, per_record=variant == "produce/send"))
    elif variant == "relay":
        asyncio.run(child_relay(dsn, bootstrap, records))
    elif variant in LONE_TOPICS:
        asyncio.run(child_lone(dsn, bootstrap, records, variant))
    else:
        asyncio.run(child_consume(dsn, bootstrap, records, {int(p): o for p, o in json.loads(boundaries).items()}))


# --- the parent: the infrastructure, one child per variant, the meter around its window ---------------------------


def measure(env: BenchEnv, variant: str, records: int, boundaries: dict[str, int] | None) -> dict[str, Any]:
    dsn = env.infra.database_url.replace("postgresql+asyncpg", "postgresql")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.floor_hop", "--child", variant, "--records", str(records),
         "--boundaries", json.dumps(boundaries or {})],
        cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "FLOOR_DSN": dsn, "FLOOR_BOOTSTRAP": env.infra.kafka_bootstrap})
    assert proc.stdin is not None and proc.stdout is not None
    try:
        if (line := proc.stdout.readline().strip()) != "ready":
            raise RuntimeError(f"{variant}: the child said {line!r}, not ready")
        meter = CpuMeter({"process": proc.pid, **infra_roots(env.infra)}).start()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        line = proc.stdout.readline().strip()
        used = meter.stop()
        if not line.startswith("done "):
            raise RuntimeError(f"{variant}: the child said {line!r}, not done")
        stats: dict[str, Any] = json.loads(line[5:])
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        if proc.wait(60) != 0:
            raise RuntimeError(f"{variant}: the child exited with {proc.returncode}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    n = max(1, int(stats["records"]))
    per = {k: round(v * 1000 / n, 4) for k, v in used.items()}
    out: dict[str, Any] = {"variant": variant, **stats, "seconds": round(meter.wall_s, 2),
                           "records_per_s": round(n / meter.wall_s, 1), "cpu_ms_per_record": per,
                           "cpu_ms_per_record_total": round(sum(per.values()), 4), "machine_cpu": meter.machine,
                           "load_average": [round(x, 2) for x in os.getloadavg()]}
    if stats.get("polls"):
        out["records_per_poll"] = round(n / max(1, stats["polls"]), 2)
    if "batches" in stats:
        out["produce_requests_per_batch"] = round(stats.get("produce_requests", 0) / max(1, stats["batches"]), 2)
    if variant in LONE_TOPICS:
        out["rate_per_s"] = LONE_RATE
    if stats.get("transactions"):
        out["records_per_transaction"] = round(n / max(1, stats["transactions"]), 1)
    return out


def _line(r: dict[str, Any]) -> str:
    per, m = r["cpu_ms_per_record"], r["machine_cpu"]
    cpu = " ".join(f"{k} {v:.4f}" for k, v in per.items())
    return (f"{r['variant']:<13} {r['records']} records in {r['seconds']} s, {r['records_per_s']:,.0f}/s; CPU-ms per"
            f" record: {cpu}, total {r['cpu_ms_per_record_total']:.4f}; machine busy {m['busy_percent']}%, steal"
            f" {m['steal_percent']}%, outside {m['outside_percent']}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma separated, of " + ", ".join(VARIANTS)
                        + " (consume reads what produce wrote)")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--boundaries", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.records, args.boundaries)
        return
    from backbone.release import ensure_topics

    runs: list[dict[str, Any]] = []
    with BenchEnv(services=[]) as env:
        asyncio.run(ensure_topics(env.infra.kafka_bootstrap,
                                  [TopicSpec(t, PARTITIONS) for t in (TOPIC, SEND_TOPIC, RELAY_TOPIC,
                                                                      *LONE_TOPICS.values())]))
        boundaries: dict[str, int] | None = None
        for variant in args.variants.split(","):
            result = measure(env, variant, LONE_RECORDS if variant in LONE_TOPICS else args.records, boundaries)
            produced = result.pop("boundaries", None)
            if variant == "produce":
                boundaries = produced  # where the consumer's warm-up ends in each partition
            print(_line(result), flush=True)
            runs.append(result)
    write_result("floor_hop", {"records": args.records, "warmup_records": WARMUP, "partitions": PARTITIONS,
                               "value_bytes": len(_event()[1]), "batch": BATCH, "run": RUN, "runs": runs})


if __name__ == "__main__":
    main()
