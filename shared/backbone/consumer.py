"""Consumer runner: Kafka → inbox claim + domain handler in one transaction → offset commit.

- A malformed envelope, or a payload that breaks its schema, goes to `<topic>.dlq` at once with
  the reason; the partition moves on.
- An unknown event type is skipped and counted (consumers must tolerate new producers).
- Any other failure is retried with exponential backoff; after `max_attempts` the event goes to
  the DLQ with the error. Offsets are committed only once the effect (or the DLQ copy) is durable.
- Partitions are worked concurrently, each strictly in order. A run of one partition's events is
  applied in one transaction (each event still claims its own inbox row): far fewer commits under
  load; if anything in the run fails, the run is rolled back and applied event by event instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone import metrics
from backbone.correlation import reset_correlation_id, set_correlation_id
from backbone.envelope import Envelope, MalformedEvent, parse_envelope
from backbone.inbox import claim, claim_many
from backbone.kafka import Producer, make_consumer
from backbone.masking import mask_pii
from backbone.topics import dlq
from backbone.workers import Backoff, Worker

log = logging.getLogger("backbone.consumer")

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]
# Applies a whole run of fresh (already claimed) events at once, set-based, in the caller's transaction.
BatchApplier = Callable[[AsyncSession, Sequence[Envelope]], Awaitable[None]]


class PermanentError(Exception):
    """A failure that a retry cannot fix (e.g. the event contradicts the aggregate): DLQ at once."""


@dataclass
class RetryPolicy:
    max_attempts: int = 5
    initial_s: float = 0.2
    max_s: float = 5.0

    def delay(self, attempt: int) -> float:
        return Backoff(self.initial_s, self.max_s).delay(attempt)


class ConsumerRunner(Worker):
    """A `Worker` whose pass is one poll of its consumer group's partitions."""

    def __init__(
        self,
        *,
        name: str,
        bootstrap: str,
        topics: list[str],
        group_id: str,
        handlers: dict[str, Handler],
        session_factory: async_sessionmaker[AsyncSession],
        inbox: Table,
        producer: Producer,
        retry: RetryPolicy | None = None,
        batch_size: int = 100,
        apply_run: BatchApplier | None = None,
    ) -> None:
        super().__init__(f"consumer-{name}")
        self.group_name = name
        self.bootstrap = bootstrap
        self.topics = topics
        self.group_id = group_id
        self.handlers = handlers
        self.session_factory = session_factory
        self.inbox = inbox
        self.producer = producer
        self.retry = retry or RetryPolicy()
        self.batch_size = max(1, batch_size)
        self.apply_run = apply_run
        self.started = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None

    async def setup(self) -> None:
        self._consumer = make_consumer(self.bootstrap, *self.topics, group_id=self.group_id, client_id=self.group_name)
        await self._consumer.start()
        log.info("consumer %s started on %s", self.group_name, ",".join(self.topics))

    async def step(self) -> float:
        if self._consumer is None:
            await self.setup()
        consumer = self._consumer
        assert consumer is not None
        batches = await consumer.getmany(timeout_ms=200, max_records=500)
        self.started.set()
        if batches:
            await asyncio.gather(*(self._work_partition(consumer, tp, msgs) for tp, msgs in batches.items()))
        return 0.0

    async def reset(self) -> None:
        # A failed pass may have fetched past uncommitted records: leave the group and rejoin, so
        # the next pass starts again from the committed offsets (redeliveries go to the inbox).
        await self.teardown()

    async def teardown(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()

    async def _work_partition(self, consumer: object, tp: TopicPartition, msgs: list[ConsumerRecord]) -> None:
        for start in range(0, len(msgs), self.batch_size):
            chunk = msgs[start:start + self.batch_size]
            leftover = chunk if len(chunk) == 1 else await self._apply_batch(chunk)
            for msg in leftover:
                await self.process(msg)
        try:
            await consumer.commit({tp: msgs[-1].offset + 1})  # type: ignore[attr-defined]
        except (CommitFailedError, KafkaError) as exc:
            # Rebalanced away mid-batch: the new owner re-reads these; the inbox absorbs them.
            log.warning("offset commit failed for %s: %r", tp, exc)

    async def _apply_batch(self, chunk: list[ConsumerRecord]) -> list[ConsumerRecord]:
        """Apply a run of one partition's events in one transaction: one multi-row inbox claim, then
        the handlers (or the service's set-based `apply_run`) for the events seen for the first time.

        Returns what is left to apply one by one: nothing on success; on a malformed event or any
        failure, the whole run (rolled back), to be applied singly with retries and the DLQ in
        partition order, so a bad event never takes good ones down with it.
        """
        envelopes: list[Envelope] = []
        for msg in chunk:
            try:
                envelopes.append(parse_envelope(msg.value))
            except MalformedEvent:
                return chunk
        known = [e for e in envelopes if e.type in self.handlers]
        started = time.perf_counter()
        try:
            async with self.session_factory() as session, session.begin():
                fresh = await claim_many(session, self.inbox, known, self.group_id)
                if self.apply_run is not None:
                    await self.apply_run(session, fresh)
                else:
                    for envelope in fresh:
                        token = set_correlation_id(envelope.correlation_id)
                        try:
                            await self.handlers[envelope.type](session, envelope)
                        finally:
                            reset_correlation_id(token)
        except Exception as exc:  # noqa: BLE001 - retried event by event right after
            log.info("run of %d fell back to one-by-one: %r", len(chunk), exc)
            return chunk
        applied = {id(e) for e in fresh}
        per_event = (time.perf_counter() - started) / max(1, len(known))
        for e in envelopes:
            if e.type not in self.handlers:
                metrics.EVENTS_SKIPPED.labels(self.group_id, e.type).inc()
            elif id(e) in applied:
                metrics.EVENTS_CONSUMED.labels(self.group_id, e.type, "applied").inc()
                metrics.EVENT_HANDLE_SECONDS.labels(self.group_id, e.type).observe(per_event)
            else:
                metrics.EVENTS_CONSUMED.labels(self.group_id, e.type, "duplicate").inc()
        return []

    async def process(self, msg: ConsumerRecord) -> None:
        try:
            envelope = parse_envelope(msg.value)
        except MalformedEvent as exc:
            await self._dead_letter(msg, "malformed", exc.reason)
            return
        handler = self.handlers.get(envelope.type)
        if handler is None:
            metrics.EVENTS_SKIPPED.labels(self.group_id, envelope.type).inc()
            return
        token = set_correlation_id(envelope.correlation_id)
        try:
            await self._apply_with_retries(msg, envelope, handler)
        finally:
            reset_correlation_id(token)

    async def _apply_with_retries(self, msg: ConsumerRecord, envelope: Envelope, handler: Handler) -> None:
        extra = {"event_id": envelope.id, "event_type": envelope.type, "subject": envelope.subject}
        for attempt in range(1, self.retry.max_attempts + 1):
            started = time.perf_counter()
            try:
                async with self.session_factory() as session, session.begin():
                    if not await claim(session, self.inbox, envelope, self.group_id):
                        metrics.EVENTS_CONSUMED.labels(self.group_id, envelope.type, "duplicate").inc()
                        return
                    await handler(session, envelope)
                metrics.EVENTS_CONSUMED.labels(self.group_id, envelope.type, "applied").inc()
                metrics.EVENT_HANDLE_SECONDS.labels(self.group_id, envelope.type).observe(
                    time.perf_counter() - started
                )
                return
            except MalformedEvent as exc:
                await self._dead_letter(msg, "schema", exc.reason)
                return
            except PermanentError as exc:
                await self._dead_letter(msg, "rejected", str(exc))
                return
            except Exception as exc:
                if attempt == self.retry.max_attempts:
                    log.exception("giving up on event after %d attempts", attempt, extra=extra)
                    await self._dead_letter(msg, "failed", f"{type(exc).__name__}: {exc}")
                    return
                delay = self.retry.delay(attempt)
                log.warning("attempt %d failed (%r); retrying in %.1fs", attempt, exc, delay, extra=extra)
                await asyncio.sleep(delay)

    async def _dead_letter(self, msg: ConsumerRecord, kind: str, reason: str) -> None:
        # The reason may quote the event or a database error: masked like a log line (and the engine
        # hides bound parameters, `backbone.db.make_engine`).
        reason = mask_pii(reason)
        headers = [
            ("dlq.reason", reason.encode()[:4000]),
            ("dlq.kind", kind.encode()),
            ("dlq.consumer_group", self.group_id.encode()),
            ("dlq.original_topic", msg.topic.encode()),
            ("dlq.original_partition", str(msg.partition).encode()),
            ("dlq.original_offset", str(msg.offset).encode()),
        ]
        await self.producer.send_and_wait(dlq(msg.topic), msg.value or b"", key=msg.key, headers=headers)
        metrics.EVENTS_DEAD_LETTERED.labels(self.group_id, msg.topic, kind).inc()
        log.warning("dead-lettered %s@%d:%d (%s): %s", msg.topic, msg.partition, msg.offset, kind, reason)
