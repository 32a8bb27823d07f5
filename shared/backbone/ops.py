"""`GET /api/v1/ops/status`: what an operator's status page needs, from every service, once.

- **outbox backlog**: the count of this service's unsent outbox rows when asked, the oldest one's time,
  and the rows this process's relay set aside as unpublishable;
- **consumer lag**: per consumer group of this process, per partition, the committed offset against
  the log end offset (`kafka_status`: the admin and consumer APIs, no group joined);
- **dead letters**: the records each of the suite's dead-letter topics holds (`<topic>.dlq`).

Supervisors and admins read it (the console's admin pages). Kafka being unreachable is reported in
`kafka`, never a 5xx: the outbox figures still answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, computed_field
from sqlalchemy import func, select

from backbone.auth import require
from backbone.authz import authorize
from backbone.deps import PrincipalDep, RuntimeDep
from backbone.kafka import PLAINTEXT, KafkaSecurity
from backbone.topics import STREAMS, dlq
from backbone.vocabulary import TokenRole

router = APIRouter(prefix="/api/v1/ops", tags=["ops"])


class PartitionLag(BaseModel):
    """A consumer group's position on one partition (as `kafka_status` finds it and the status page shows it)."""

    model_config = ConfigDict(frozen=True)
    topic: str
    partition: int
    committed: int | None = Field(description="the group's committed offset (null: nothing committed yet)")
    end: int = Field(description="the partition's log end offset")

    @computed_field(description="records not yet committed by the group")  # type: ignore[prop-decorator]
    @property
    def lag(self) -> int:
        """Records the group has not committed yet (everything, when it committed nothing)."""
        return max(0, self.end - (self.committed or 0))


@dataclass(frozen=True)
class KafkaStatus:
    lags: dict[str, list[PartitionLag]]  # consumer group → its partitions
    records: dict[str, int]  # topic → records the broker holds (end − beginning, summed over partitions)


async def kafka_status(
    bootstrap: str, groups: Mapping[str, Sequence[str]], counted: Sequence[str], *, timeout_s: float = 5.0,
    security: KafkaSecurity = PLAINTEXT,
) -> KafkaStatus:
    """Each consumer group's committed offset against the log end of every partition of its topics, and
    how many records each of `counted` holds (e.g. the DLQs). Topics that do not exist are left out (never
    created: only `list_topics` and `describe_topics` of existing ones are asked)."""
    from aiokafka.admin import AIOKafkaAdminClient

    timeout_ms = int(timeout_s * 1000)
    admin = AIOKafkaAdminClient(**security.options(), bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms)
    reader = AIOKafkaConsumer(**security.options(), bootstrap_servers=bootstrap, group_id=None,
                              enable_auto_commit=False, request_timeout_ms=timeout_ms)

    async def ask() -> KafkaStatus:
        await admin.start()
        await reader.start()
        existing = set(await admin.list_topics())
        wanted = sorted(({t for ts in groups.values() for t in ts} | set(counted)) & existing)
        partitions: dict[str, list[TopicPartition]] = {t: [] for t in wanted}
        for described in await admin.describe_topics(wanted) if wanted else []:
            for p in described["partitions"]:
                partitions[described["topic"]].append(TopicPartition(described["topic"], p["partition"]))
        every = [tp for tps in partitions.values() for tp in sorted(tps)]
        end: dict[TopicPartition, int] = await reader.end_offsets(every) if every else {}
        lags: dict[str, list[PartitionLag]] = {}
        for group, topics in groups.items():
            tps = [tp for t in topics for tp in sorted(partitions.get(t, []))]
            committed = await admin.list_consumer_group_offsets(group, partitions=tps) if tps else {}
            lags[group] = [
                PartitionLag(topic=tp.topic, partition=tp.partition, end=end[tp],
                             committed=committed[tp].offset if tp in committed and committed[tp].offset >= 0 else None)
                for tp in tps
            ]
        count_tps = [tp for t in counted for tp in partitions.get(t, [])]
        begin: dict[TopicPartition, int] = await reader.beginning_offsets(count_tps) if count_tps else {}
        records = {t: sum(end[tp] - begin[tp] for tp in partitions[t]) for t in counted if t in partitions}
        return KafkaStatus(lags=lags, records=records)

    try:
        return await asyncio.wait_for(ask(), timeout_s)
    finally:
        await reader.stop()
        await admin.close()


class OutboxStatus(BaseModel):
    pending: int = Field(description="unsent outbox rows (a true count)")
    oldest_pending_at: datetime | None = Field(description="when the oldest unsent row was written")
    set_aside: int | None = Field(description="rows this process's relay set aside as unpublishable (their "
                                              "aggregates wait behind them); null where this process runs no relay")


class ConsumerStatus(BaseModel):
    group: str
    topics: list[str]
    lag: int = Field(description="sum over the partitions")
    partitions: list[PartitionLag]
    dead_letter_topics: list[str] = Field(description="where this consumer dead-letters (`<topic>.dlq`)")


class DeadLetterCount(BaseModel):
    topic: str
    records: int = Field(description="records the broker holds in the topic (within its retention)")


class OpsStatus(BaseModel):
    service: str
    outbox: OutboxStatus
    kafka: str = Field(description='"ok", or why the lag and dead-letter figures are missing')
    consumers: list[ConsumerStatus]
    dead_letters: list[DeadLetterCount] = Field(description="every dead-letter topic of the suite")


@router.get("/status", response_model=OpsStatus,
            summary="Outbox backlog, consumer lag per partition and dead-letter counts (supervisor, admin)",
            dependencies=[authorize(TokenRole.SUPERVISOR, TokenRole.ADMIN)])
async def status(principal: PrincipalDep, runtime: RuntimeDep) -> OpsStatus:
    require(principal, TokenRole.SUPERVISOR, TokenRole.ADMIN)
    o = runtime.infra.outbox
    async with runtime.session_factory() as session:
        row = (await session.execute(
            select(func.count(), func.min(o.c.created_at)).where(o.c.sent_at.is_(None)))).one()
    settings = runtime.settings
    groups = {c.group_id: list(c.topics) for c in runtime.consumers} if settings.run_consumers else {}
    dead_letter_topics = [dlq(t) for t in STREAMS]
    consumers: list[ConsumerStatus] = []
    records: dict[str, int] = {}
    try:
        found = await kafka_status(settings.kafka_bootstrap_servers, groups, dead_letter_topics,
                                   security=KafkaSecurity.from_settings(settings))
        kafka = "ok"
    except Exception as exc:  # noqa: BLE001 - reported in the answer, the outbox figures still count
        found, kafka = None, f"unavailable: {type(exc).__name__}"
    if found is not None:
        records = found.records
        for group, topics in groups.items():
            parts = found.lags.get(group, [])
            consumers.append(ConsumerStatus(group=group, topics=topics, lag=sum(p.lag for p in parts),
                                            partitions=parts, dead_letter_topics=[dlq(t) for t in topics]))
    return OpsStatus(
        service=settings.service_name,
        outbox=OutboxStatus(pending=row[0], oldest_pending_at=row[1],
                            set_aside=len(runtime.relay.failed) if settings.run_relay else None),
        kafka=kafka,
        consumers=consumers,
        dead_letters=[DeadLetterCount(topic=t, records=records[t]) for t in dead_letter_topics if t in records],
    )

