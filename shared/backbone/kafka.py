"""Kafka clients configured the way the delivery guarantees need them, authenticated as the settings say
(`KafkaSecurity`: PLAINTEXT locally, SASL/SCRAM as the service's own principal in deploy/)."""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.record.default_records import DefaultRecordBatchBuilder


@dataclass(frozen=True)
class KafkaSecurity:
    """How a client authenticates to the brokers (docs/security.md, item 6): the protocol, and for SASL the
    mechanism and the principal's credentials (SCRAM uses aiokafka's `sasl_plain_*` options too)."""

    protocol: str = "PLAINTEXT"
    mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None

    def __post_init__(self) -> None:
        if self.protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
            raise ValueError(f"unknown Kafka security protocol {self.protocol!r}")
        if self.protocol.startswith("SASL_") and not (self.mechanism and self.username and self.password):
            raise ValueError(f"{self.protocol} needs a SASL mechanism, a username and a password")

    @classmethod
    def from_settings(cls, settings: Any) -> KafkaSecurity:
        """From a `backbone.settings.ServiceSettings` (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_CAFILE)."""
        password = settings.kafka_sasl_password
        return cls(protocol=settings.kafka_security_protocol, mechanism=settings.kafka_sasl_mechanism,
                   username=settings.kafka_sasl_username,
                   password=password.get_secret_value() if password is not None else None,
                   cafile=settings.kafka_ssl_cafile)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KafkaSecurity:
        """The same variables, for the command-line tasks that read the environment (backbone.release)."""
        return cls(protocol=env.get("KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT",
                   mechanism=env.get("KAFKA_SASL_MECHANISM") or None, username=env.get("KAFKA_SASL_USERNAME") or None,
                   password=env.get("KAFKA_SASL_PASSWORD") or None, cafile=env.get("KAFKA_SSL_CAFILE") or None)

    def options(self) -> dict[str, Any]:
        """Keyword arguments of AIOKafkaProducer / AIOKafkaConsumer / AIOKafkaAdminClient."""
        out: dict[str, Any] = {"security_protocol": self.protocol}
        if self.protocol.startswith("SASL_"):
            out.update(sasl_mechanism=self.mechanism, sasl_plain_username=self.username,
                       sasl_plain_password=self.password)
        if self.protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            out["ssl_context"] = create_ssl_context(cafile=self.cafile)
        return out


PLAINTEXT = KafkaSecurity()

_M, _MASK = 0x5BD1E995, 0xFFFFFFFF
_WORDS = [struct.Struct(f"<{n}I") for n in range(64)]  # a key's 4-byte words, little-endian (up to 255 bytes)


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 of a record key (the Java client's `Utils.murmur2`, seed 0x9747b28c), the value aiokafka's
    `aiokafka.partitioner.murmur2` returns: the key's words unpacked at once instead of byte by byte, one mask per
    product. 14 -> 6 us for a 36-byte uuid key (timeit, this machine); every order and every ticket brings a key of
    its own, which a relay hashes once (`Producer.send_many` caches a key's partition for the events that repeat
    it). A hypothesis test holds it equal to aiokafka's on any bytes."""
    length = len(data)
    h = 0x9747B28C ^ length
    n4 = length >> 2
    for k in (_WORDS[n4] if n4 < 64 else struct.Struct(f"<{n4}I")).unpack_from(data):
        k = (k * _M) & _MASK
        k = ((k ^ (k >> 24)) * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    if extra := length & 3:
        tail = length & ~3
        if extra >= 3:
            h ^= data[tail + 2] << 16
        if extra >= 2:
            h ^= data[tail + 1] << 8
        h = ((h ^ data[tail]) * _M) & _MASK
    h = ((h ^ (h >> 13)) * _M) & _MASK
    return h ^ (h >> 15)


def key_partitioner(key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
    """The producer's partitioner: aiokafka's `DefaultPartitioner` (the Java client's: a key's positive murmur2
    modulo the topic's partitions, so every producer of a key, in any language, picks the same partition; a
    record without a key to a random available one) on `murmur2` above."""
    if key is None:
        return random.choice(available or all_partitions)
    return all_partitions[(murmur2(key) & 0x7FFFFFFF) % len(all_partitions)]


class Producer:
    """Idempotent producer, acks=all: a retried send is written once, in order, per partition.

    No linger by default: the relay queues a whole batch of rows before it yields to the event loop, so
    the sender still finds them batched per partition, and a pass waits for no timer before its acks.
    """

    def __init__(self, bootstrap: str, *, linger_ms: int = 0, client_id: str = "groupsuite",
                 security: KafkaSecurity = PLAINTEXT) -> None:
        self._producer = AIOKafkaProducer(
            **security.options(),
            bootstrap_servers=bootstrap,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=linger_ms,
            max_batch_size=256 * 1024,
            request_timeout_ms=30000,
            partitioner=key_partitioner,
        )
        # (topic, partition count) -> key -> partition, for `send_many`
        self._partition_cache: dict[tuple[str, int], dict[bytes, TopicPartition]] = {}

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(
        self, topic: str, value: bytes, *, key: bytes | None = None, headers: list[tuple[str, bytes]] | None = None
    ) -> asyncio.Future[Any]:
        """Queue a message; await the returned future for the broker's acknowledgement."""
        fut: asyncio.Future[Any] = await self._producer.send(topic, value, key=key, headers=headers)
        return fut

    async def send_and_wait(
        self, topic: str, value: bytes, *, key: bytes | None = None, headers: list[tuple[str, bytes]] | None = None
    ) -> Any:
        return await (await self.send(topic, value, key=key, headers=headers))

    async def send_many(self, records: Iterable[tuple[str, bytes, bytes]], queued: list[asyncio.Future[Any]]) -> None:
        """Queue keyed records `(topic, key, value)` in this order, each to its key's partition (the same one `send`
        picks), appending each record's acknowledgement future to `queued` as soon as it is queued.

        The outbox relay's bulk path (docs/benchmarks.md, relay): the topic's metadata is looked up once per run of
        records to the same topic and a key's partition once per topic layout, not the key hashed (`murmur2`),
        the partitions listed and the record serialised per record as `send` does; the size check is
        `send`'s. An error (a record over `max_request_size`, no metadata for a topic in time, the producer closed)
        is raised at that record: `queued` then holds the futures of the records before it, which are on their way.
        """
        producer = self._producer
        accumulator = producer._message_accumulator
        timeout_s = producer._request_timeout_ms / 1000
        size_guard = producer._max_request_size - DefaultRecordBatchBuilder.estimate_size_in_bytes(b"", b"", [])
        topic_now: str | None = None
        partitions: dict[bytes, TopicPartition] = {}
        for topic, key, value in records:
            if topic != topic_now:
                layout = await producer.client._wait_on_metadata(topic)
                partitions = self._partition_cache.get((topic, len(layout)), {})
                if not partitions:  # first use, or the topic's partition count changed
                    self._partition_cache = {k: v for k, v in self._partition_cache.items() if k[0] != topic}
                    self._partition_cache[(topic, len(layout))] = partitions
                topic_now = topic
            if len(key) + len(value) > size_guard:
                size = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, [])
                if size > producer._max_request_size:
                    raise MessageSizeTooLargeError(
                        f"The message is {size} bytes when serialized which is larger than the maximum request size"
                        " you have configured with the max_request_size configuration")
            tp = partitions.get(key)
            if tp is None:
                tp = partitions[key] = TopicPartition(topic, producer._partition(topic, None, key, value, key, value))
                if len(partitions) > 100_000:  # keys are aggregates: bound the cache, it refills as it goes
                    partitions.clear()
                    partitions[key] = tp
            queued.append(await accumulator.add_message(tp, key, value, timeout_s))

    async def partitions_for(self, topic: str) -> set[int]:
        return await self._producer.partitions_for(topic)  # type: ignore[no-any-return]


def make_consumer(bootstrap: str, *topics: str, group_id: str, client_id: str = "groupsuite",
                  security: KafkaSecurity = PLAINTEXT, listener: ConsumerRebalanceListener | None = None,
                  ) -> AIOKafkaConsumer:
    """A consumer of `topics` in `group_id`; `listener` hears of its rebalances (the runner commits before one)."""
    # Offsets are committed by the runner only after the effect is durable.
    consumer = AIOKafkaConsumer(
        **security.options(),
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=500,
        # The broker answers a fetch as soon as a record is there; the wait only bounds an idle fetch, so
        # an idle consumer sends one fetch every 5 s instead of two a second (docs/benchmarks.md, idle).
        fetch_max_wait_ms=5000,
        # The fetcher's own loop waits on its fetches, on the records being consumed, on a rebalance, a resume
        # or a metadata update (all futures); this timeout only bounds that wait. aiokafka's 200 ms woke an
        # idle consumer five times a second for nothing (docs/benchmarks.md, idle, pass 3).
        consumer_timeout_ms=5000,
        session_timeout_ms=10000,
        heartbeat_interval_ms=3000,
    )
    consumer.subscribe(list(topics), listener=listener)
    return consumer


async def kafka_reachable(bootstrap: str, timeout_s: float = 2.0, security: KafkaSecurity = PLAINTEXT) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**security.options(), bootstrap_servers=bootstrap,
                                request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        await asyncio.wait_for(admin.list_topics(), timeout_s)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable" for /readyz
        return False
    finally:
        await admin.close()
