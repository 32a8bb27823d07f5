"""Retention: the outbox, inbox and idempotency-key tables are purged on a schedule.

What may go, and why it is safe:
- outbox rows **sent** more than `outbox_retention_h` ago: the relay never reads a sent row again
  (unsent rows are never purged, however old);
- inbox rows received more than `inbox_retention_h` ago: the inbox only has to remember an event
  for as long as Kafka can redeliver it, so the default (8 days) outlives the topics' retention
  (7 days, Kafka's default); a shorter setting would let a very late redelivery apply twice;
- idempotency keys older than `idempotency_retention_h`: a client retry after that runs again.

Rows go in bounded batches (`retention_batch_size`) so a purge never holds long locks, and the
tables' sizes are exported as `table_rows{schema,table}` for the dashboards.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from prometheus_client import Counter, Gauge
from sqlalchemy import Column, Delete, MetaData, Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from backbone.workers import Worker

log = logging.getLogger("backbone.retention")

ROWS_PURGED = Counter("retention_rows_purged_total", "Rows removed by the retention purge", ["schema", "table"])
TABLE_ROWS = Gauge("table_rows", "Estimated live rows of the mechanics' tables", ["schema", "table"])


@dataclass(frozen=True)
class RetentionRule:
    table: Table
    age_column: Column[object]
    keep: timedelta
    key: Column[object]  # a unique column, to delete in batches

    def purge_statement(self, batch_size: int) -> Delete:
        t = self.table
        older = select(self.key).where(self.age_column < func.now() - self.keep).limit(batch_size)
        return t.delete().where(self.key.in_(older.scalar_subquery()))


@dataclass(frozen=True)
class RetentionWindows:
    outbox: timedelta = timedelta(hours=24)
    inbox: timedelta = timedelta(days=8)
    idempotency: timedelta = timedelta(hours=24)


def rules_for(metadata: MetaData, windows: RetentionWindows) -> list[RetentionRule]:
    """The rules for whichever of outbox / inbox / idempotency_keys the service's schema has."""
    schema = metadata.schema
    tables = metadata.tables
    rules: list[RetentionRule] = []
    if (o := tables.get(f"{schema}.outbox")) is not None:
        rules.append(RetentionRule(o, o.c.sent_at, windows.outbox, o.c.seq))  # NULL sent_at never compares
    if (i := tables.get(f"{schema}.inbox")) is not None:
        rules.append(RetentionRule(i, i.c.received_at, windows.inbox, i.c.event_id))
    if (k := tables.get(f"{schema}.idempotency_keys")) is not None:
        rules.append(RetentionRule(k, k.c.created_at, windows.idempotency, k.c.key))
    return rules


async def purge(engine: AsyncEngine, rules: list[RetentionRule], *, batch_size: int = 5000) -> dict[str, int]:
    """One purge over every rule, in batches of `batch_size` rows, one transaction per batch."""
    purged: dict[str, int] = {}
    for rule in rules:
        total = 0
        while True:
            async with engine.begin() as conn:
                n = int((await conn.execute(rule.purge_statement(batch_size))).rowcount or 0)
            total += n
            if n < batch_size:
                break
        purged[rule.table.name] = total
        if total:
            ROWS_PURGED.labels(rule.table.schema, rule.table.name).inc(total)
    return purged


async def measure(engine: AsyncEngine, rules: list[RetentionRule]) -> None:
    """Table sizes from PostgreSQL's statistics (cheap: no count(*))."""
    async with engine.connect() as conn:
        for rule in rules:
            n = (await conn.execute(
                text("SELECT n_live_tup FROM pg_stat_user_tables WHERE schemaname = :s AND relname = :t"),
                {"s": rule.table.schema, "t": rule.table.name},
            )).scalar()
            TABLE_ROWS.labels(rule.table.schema, rule.table.name).set(float(n or 0))


class RetentionWorker(Worker):
    """Purges every `interval_s` (several instances may run it: the deletes are idempotent)."""

    def __init__(self, engine: AsyncEngine, rules: list[RetentionRule], *, interval_s: float, batch_size: int,
                 schema: str | None = None) -> None:
        super().__init__(f"retention-{schema or 'public'}")
        self.engine = engine
        self.rules = rules
        self.interval_s = interval_s
        self.batch_size = batch_size

    async def step(self) -> float:
        purged = await purge(self.engine, self.rules, batch_size=self.batch_size)
        if any(purged.values()):
            log.info("retention purge: %s", ", ".join(f"{k}={v}" for k, v in purged.items()))
        await measure(self.engine, self.rules)
        return self.interval_s
