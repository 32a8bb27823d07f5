"""The moving parts one service process owns, started and stopped together.

Each service's `bootstrap()` builds a `ServiceRuntime` (engine, session factory, producer, outbox
relay, consumer runners, extra background loops) and the FastAPI lifespan starts and stops it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import MetaData, Table, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backbone.consumer import BatchApplier, ConsumerRunner, Handler, RetryPolicy
from backbone.db import make_engine, make_session_factory
from backbone.kafka import Producer, kafka_reachable
from backbone.outbox import OutboxRelay
from backbone.settings import ServiceSettings

log = logging.getLogger("backbone.runtime")


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    metadata: MetaData
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    producer: Producer
    outbox: Table
    inbox: Table
    relay: OutboxRelay
    consumers: list[ConsumerRunner] = field(default_factory=list)
    loops: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def create(cls, settings: ServiceSettings, metadata: MetaData) -> ServiceRuntime:
        schema = metadata.schema
        engine = make_engine(settings.database_url, pool_size=settings.db_pool_size, schema=schema)
        producer = Producer(settings.kafka_bootstrap_servers, client_id=settings.service_name)
        outbox = metadata.tables[f"{schema}.outbox"]
        relay = OutboxRelay(
            engine, outbox, producer,
            batch_size=settings.outbox_batch_size, poll_interval_s=settings.outbox_poll_interval_s,
        )
        return cls(
            settings=settings, metadata=metadata, engine=engine, session_factory=make_session_factory(engine),
            producer=producer, outbox=outbox, inbox=metadata.tables[f"{schema}.inbox"], relay=relay,
        )

    def add_consumer(
        self,
        *,
        topics: list[str],
        handlers: dict[str, Handler],
        name: str | None = None,
        apply_run: BatchApplier | None = None,
    ) -> None:
        s = self.settings
        self.consumers.append(
            ConsumerRunner(
                name=name or s.service_name,
                bootstrap=s.kafka_bootstrap_servers,
                topics=topics,
                group_id=s.group_id,
                handlers=handlers,
                session_factory=self.session_factory,
                inbox=self.inbox,
                producer=self.producer,
                retry=RetryPolicy(s.consumer_max_attempts, s.consumer_backoff_initial_s, s.consumer_backoff_max_s),
                batch_size=s.consumer_batch_size,
                apply_run=apply_run,
            )
        )

    async def start(self) -> None:
        await self.producer.start()
        if self.settings.run_relay:
            self._spawn(self.relay.run(), "outbox-relay")
        if self.settings.run_consumers:
            for runner in self.consumers:
                self._spawn(runner.run(), f"consumer-{runner.name}")
        for loop in self.loops:
            self._spawn(loop(), getattr(loop, "__name__", "loop"))

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                # A dead background loop must not go unnoticed: readiness reports it.
                log.exception("background task %s died", name)
                raise

        self._tasks.append(asyncio.create_task(guarded(), name=name))

    async def stop(self) -> None:
        self.relay.stop()
        for runner in self.consumers:
            runner.stop()
        for task in self._tasks:
            if not task.done():
                try:
                    await asyncio.wait_for(asyncio.shield(task), timeout=3)
                except Exception:  # noqa: BLE001 - a loop that will not stop in time is cancelled
                    task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.producer.stop()
        await self.engine.dispose()

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            checks["database"] = f"down: {type(exc).__name__}"
        checks["kafka"] = "ok" if await kafka_reachable(self.settings.kafka_bootstrap_servers) else "down"
        dead = [t.get_name() for t in self._tasks if t.done()]
        checks["background"] = "ok" if not dead else f"stopped: {', '.join(dead)}"
        return checks
