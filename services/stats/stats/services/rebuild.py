"""Rebuilding the read model from the topics, from offset zero.

    python -m stats.rebuild          # with the service's environment (DATABASE_URL, KAFKA_*)

1. the fact tables are truncated (one transaction: TRUNCATE waits for the live consumer's open
   transaction, and nothing reads half-emptied tables);
2. the log end of every partition of the read model's topics is taken *after* the truncation;
3. every record from offset zero up to those ends is read (no consumer group: nothing is committed,
   the live consumer's offsets stay as they are) and recorded with the same `facts.record` as the
   live consumer, in batches of one transaction each.

The live service may keep running: what it recorded before the truncation is below the ends and is
replayed; what arrives later is recorded by it (its inbox has not seen it yet). Facts are insert-only and
keyed, so the two meeting on an event record it once. A record that is not a valid envelope, or a payload
that does not validate, had no effect on the live read model (dead-lettered there) and is skipped here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone.envelope import MalformedEvent, parse_envelope
from backbone.kafka import PLAINTEXT, KafkaSecurity
from backbone.topics import CRM_COMPLAINTS, CRM_OPPORTUNITIES, CRM_ORDERS, EOMS_TICKETS, SLA_ALERTS
from stats.models import FACT_TABLES
from stats.services.facts import ROWS, Rows, insert_rows

log = logging.getLogger("stats.rebuild")

#: The topics the read model is fed by (the live consumer's and the rebuild's).
TOPICS = (CRM_ORDERS, CRM_COMPLAINTS, CRM_OPPORTUNITIES, EOMS_TICKETS, SLA_ALERTS)


@dataclass(frozen=True)
class RebuildResult:
    records: int  # read from the topics
    recorded: int  # events the read model keeps (the others are types it does not count)
    skipped: int  # not a valid envelope or payload


async def truncate(session_factory: async_sessionmaker[AsyncSession]) -> None:
    names = ", ".join(f"{t.schema}.{t.name}" for t in FACT_TABLES)
    async with session_factory() as session, session.begin():
        await session.execute(text(f"TRUNCATE {names}"))


async def rebuild(session_factory: async_sessionmaker[AsyncSession], bootstrap: str, *,
                  security: KafkaSecurity = PLAINTEXT, batch_size: int = 500) -> RebuildResult:
    await truncate(session_factory)
    # auto_offset_reset "earliest": a position the reader resolves on its own (an assignment's first fetch) is
    # the beginning too, never the end; with "latest" a full suite's run read 0 of 2,685 records once.
    reader = AIOKafkaConsumer(**security.options(), bootstrap_servers=bootstrap, group_id=None,
                              enable_auto_commit=False, isolation_level="read_committed", auto_offset_reset="earliest",
                              max_poll_records=batch_size, client_id="stats-rebuild")
    await reader.start()
    records = recorded = skipped = 0
    try:
        tps = await _partitions(bootstrap, security)
        reader.assign(tps)
        ends = await reader.end_offsets(tps)
        starts = await reader.beginning_offsets(tps)
        for tp in tps:
            reader.seek(tp, starts[tp])  # explicit offsets: nothing left for a reset to resolve later
        pending = {tp for tp in tps if ends[tp] > starts[tp]}
        log.info("replaying %d records of %d partitions", sum(ends[tp] - starts[tp] for tp in tps), len(tps))
        while pending:
            batch = await reader.getmany(*pending, timeout_ms=1000, max_records=batch_size)
            rows: Rows = []
            for tp, msgs in batch.items():
                for msg in msgs:
                    if msg.offset >= ends[tp]:
                        continue
                    records += 1
                    try:
                        envelope = parse_envelope(msg.value)
                        rows_of = ROWS.get(envelope.type)
                        if rows_of is not None:
                            rows += rows_of(envelope)
                            recorded += 1
                    except MalformedEvent as exc:
                        skipped += 1
                        log.warning("skipped %s[%d]@%d: %s", tp.topic, tp.partition, msg.offset, exc)
            async with session_factory() as session, session.begin():
                await insert_rows(session, rows)
            for tp in list(pending):
                if await reader.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await reader.stop()
    log.info("read model rebuilt: %d records, %d recorded, %d skipped", records, recorded, skipped)
    return RebuildResult(records=records, recorded=recorded, skipped=skipped)


async def _partitions(bootstrap: str, security: KafkaSecurity) -> list[TopicPartition]:
    """Every partition of the read model's topics, from the broker (a fresh reader knows none yet)."""
    admin = AIOKafkaAdminClient(**security.options(), bootstrap_servers=bootstrap, client_id="stats-rebuild")
    await admin.start()
    try:
        described = await admin.describe_topics(list(TOPICS))
    finally:
        await admin.close()
    return sorted((TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]),
                  key=lambda tp: (tp.topic, tp.partition))
