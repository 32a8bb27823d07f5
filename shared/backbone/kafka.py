"""Kafka clients configured the way the delivery guarantees need them."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


class Producer:
    """Idempotent producer, acks=all: a retried send is written once, in order, per partition."""

    def __init__(self, bootstrap: str, *, linger_ms: int = 2, client_id: str = "groupsuite") -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=linger_ms,
            max_batch_size=256 * 1024,
            request_timeout_ms=30000,
        )

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

    async def partitions_for(self, topic: str) -> set[int]:
        return await self._producer.partitions_for(topic)  # type: ignore[no-any-return]


def make_consumer(bootstrap: str, *topics: str, group_id: str, client_id: str = "groupsuite") -> AIOKafkaConsumer:
    # Offsets are committed by the runner only after the effect is durable.
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=500,
        session_timeout_ms=10000,
        heartbeat_interval_ms=1000,
    )


async def kafka_reachable(bootstrap: str, timeout_s: float = 2.0) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        await asyncio.wait_for(admin.list_topics(), timeout_s)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable" for /readyz
        return False
    finally:
        await admin.close()
