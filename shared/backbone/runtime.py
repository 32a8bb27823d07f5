"""The moving parts one service process owns, started and stopped together.

Each service has a composition root, `<package>/bootstrap.py:bootstrap(settings)`, in the manner of
cosmicpython's `bootstrap`: it builds the `Infra` (engine, session factory bound to the service's
outbox, producer), the service's own typed context (its domain parts: workflow store, policy,
directory, adapters), wires handlers and workers with what they need (injected, never looked up),
and returns a `ServiceRuntime[Context]`. The FastAPI lifespan starts and stops it; routes reach
the context through `backbone.deps.context_of`.

    infra = Infra.create(settings, metadata)
    context = EomsContext(settings=settings, store=store, client=client)
    runtime = ServiceRuntime(infra, context)
    runtime.add_consumer(topics=[CRM_ORDERS], handlers=consumers.make_handlers(context))
    runtime.on_start(sync_catalog)          # runs before any worker: no lazy half-built parts
    runtime.add_worker(Forwarder(...))
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, TypeVar

from sqlalchemy import MetaData, Table, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backbone.consumer import BatchApplier, ConsumerRunner, Handler, RetryPolicy
from backbone.db import make_engine, make_session_factory
from backbone.kafka import KafkaSecurity, Producer, kafka_reachable
from backbone.outbox import OutboxRelay
from backbone.retention import RetentionWindows, RetentionWorker, rules_for
from backbone.settings import ServiceSettings
from backbone.workers import Worker

log = logging.getLogger("backbone.runtime")

C = TypeVar("C")
Hook = Callable[[], Awaitable[object]]


# The cyclic garbage collector under load (notify, 5,000 alerts → 10,000 messages, gc.callbacks timing, load 13):
# 1,456 young and 133 middle collections and 11 full ones, the full ones about 0.6 s each (the whole heap: the
# ~130,000 objects a service builds at start, SQLAlchemy, pydantic, Jinja, its catalogs), in all more than the
# process's own CPU while they ran, and the work stopped for as long. So once start has built the parts, they are
# moved out of the collector's way (`gc.freeze`: never scanned again, never freed: they live as long as the process
# anyway), and the youngest generation is collected every GC_YOUNG_THRESHOLD allocations instead of 700 (a
# request's or an event's objects mostly die young, with its transaction). Every service, in `ServiceRuntime.start`.
GC_YOUNG_THRESHOLD = 20_000


def settle_heap() -> None:
    """Collect once, then freeze what start built: later collections scan only what came after."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)



@dataclass(frozen=True)
class Infra:
    """What every service process needs: its database, its outbox and inbox, its Kafka producer."""

    settings: ServiceSettings
    metadata: MetaData
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    producer: Producer
    outbox: Table
    inbox: Table

    @classmethod
    def create(cls, settings: ServiceSettings, metadata: MetaData) -> Infra:
        schema = metadata.schema
        engine = make_engine(settings.database_url, pool_size=settings.db_pool_size, schema=schema)
        outbox = metadata.tables[f"{schema}.outbox"]
        return cls(
            settings=settings, metadata=metadata, engine=engine,
            session_factory=make_session_factory(engine, outbox=outbox, source=settings.service_name),
            producer=Producer(settings.kafka_bootstrap_servers, client_id=settings.service_name,
                              security=KafkaSecurity.from_settings(settings)),
            outbox=outbox, inbox=metadata.tables[f"{schema}.inbox"],
        )


class ServiceRuntime(Generic[C]):
    """A service process: infrastructure, the service's context, its consumers and workers."""

    # /readyz reports an outbox backlog above this (the relay cannot keep up, or Kafka is away).
    backlog_limit = 100_000

    def __init__(self, infra: Infra, context: C) -> None:
        self.infra = infra
        self.context = context
        s = infra.settings
        self.relay = OutboxRelay(infra.engine, infra.outbox, infra.producer,
                                 batch_size=s.outbox_batch_size, poll_interval_s=s.outbox_poll_interval_s,
                                 fallback_poll_s=s.outbox_fallback_poll_s)
        self.consumers: list[ConsumerRunner] = []
        self.workers: list[Worker] = []
        self._on_start: list[Hook] = []
        self._on_stop: list[Hook] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        if s.run_retention:
            windows = RetentionWindows(
                outbox=timedelta(hours=s.outbox_retention_h), inbox=timedelta(hours=s.inbox_retention_h),
                idempotency=timedelta(hours=s.idempotency_retention_h),
            )
            self.workers.append(RetentionWorker(
                infra.engine, rules_for(infra.metadata, windows), interval_s=s.retention_interval_s,
                batch_size=s.retention_batch_size, schema=infra.metadata.schema,
            ))

    # -- the parts, by name ---------------------------------------------------------------------------
    @property
    def settings(self) -> ServiceSettings:
        return self.infra.settings

    @property
    def engine(self) -> AsyncEngine:
        return self.infra.engine

    @property
    def session_factory(self) -> async_sessionmaker[AsyncSession]:
        return self.infra.session_factory

    @property
    def producer(self) -> Producer:
        return self.infra.producer

    # -- wiring (bootstrap) ---------------------------------------------------------------------------
    def add_consumer(
        self,
        *,
        topics: list[str],
        handlers: dict[str, Handler],
        name: str | None = None,
        apply_run: BatchApplier | None = None,
    ) -> ConsumerRunner:
        s = self.settings
        runner = ConsumerRunner(
            name=name or s.service_name,
            bootstrap=s.kafka_bootstrap_servers,
            security=KafkaSecurity.from_settings(s),
            topics=topics,
            group_id=s.group_id,
            handlers=handlers,
            session_factory=self.session_factory,
            inbox=self.infra.inbox,
            producer=self.producer,
            retry=RetryPolicy(s.consumer_max_attempts, s.consumer_backoff_initial_s, s.consumer_backoff_max_s),
            batch_size=s.consumer_batch_size,
            apply_run=apply_run,
        )
        self.consumers.append(runner)
        return runner

    def add_worker(self, worker: Worker) -> None:
        self.workers.append(worker)

    def on_start(self, hook: Hook) -> None:
        """Runs at start, in order, before any worker or consumer (seed data, sync a catalog)."""
        self._on_start.append(hook)

    def on_stop(self, hook: Hook) -> None:
        """Runs at stop, after every worker has stopped (close clients)."""
        self._on_stop.append(hook)

    # -- lifecycle ------------------------------------------------------------------------------------
    def _active(self) -> list[Worker]:
        s = self.settings
        return ([self.relay] if s.run_relay else []) + (list(self.consumers) if s.run_consumers else []) + self.workers

    async def start(self) -> None:
        await self.producer.start()
        for hook in self._on_start:
            await hook()
        settle_heap()  # after everything start builds, before the workers' first pass
        for worker in self._active():
            self._tasks.append(asyncio.create_task(self._guarded(worker), name=worker.name))

    async def _guarded(self, worker: Worker) -> None:
        try:
            await worker.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            # Worker.run survives failing passes; only setup/teardown failures end up here.
            log.exception("background worker %s died", worker.name)
            raise

    async def stop(self) -> None:
        self._stopping = True
        workers = self._active()
        for worker in workers:
            worker.stop()
        for task in self._tasks:
            if not task.done():
                try:
                    await asyncio.wait_for(asyncio.shield(task), timeout=3)
                except Exception:  # noqa: BLE001 - a loop that will not stop in time is cancelled
                    task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for hook in self._on_stop:
            try:
                await hook()
            except Exception:
                log.exception("stop hook failed")
        await self.producer.stop()
        await self.engine.dispose()

    # -- health ---------------------------------------------------------------------------------------
    def liveness(self) -> dict[str, str]:
        """A worker whose task ended while the process is not stopping is dead: liveness fails."""
        dead = [t.get_name() for t in self._tasks if t.done()] if not self._stopping else []
        return {"background": "ok" if not dead else f"stopped: {', '.join(dead)}"}

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            checks["database"] = f"down: {type(exc).__name__}"
        checks["kafka"] = "ok" if await kafka_reachable(
            self.settings.kafka_bootstrap_servers, security=KafkaSecurity.from_settings(self.settings)) else "down"
        checks.update(self.liveness())
        if self.settings.run_relay and self.relay.is_leader and (self.relay.pending or 0) > self.backlog_limit:
            checks["outbox"] = f"backlog: {self.relay.pending} rows unpublished (limit {self.backlog_limit})"
        if self.settings.run_consumers:
            # A partition held on a record by a transient failure (database or DLQ away) is not ready.
            for consumer in self.consumers:
                if consumer.paused:
                    checks[f"consumer-{consumer.group_name}"] = consumer.health()
        return checks

    def worker_health(self) -> dict[str, str]:
        return {w.name: w.health() for w in self._active()}
