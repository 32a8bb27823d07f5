"""Consumer runner: Kafka → inbox claim + domain handler in one transaction → offset commit.

- A malformed envelope, or a payload that breaks its schema, goes to `<topic>.dlq` at once with
  the reason; the partition moves on.
- An unknown event type is skipped and counted (consumers must tolerate new producers).
- A transient infrastructure failure (the database unreachable or restarting, a dropped connection,
  a serialization failure, Kafka unavailable, `Unavailable`) can never be the event's fault: it is
  retried without bound, with a capped backoff, while the partition is reported paused (`paused`,
  /readyz, `consumer_partition_paused`). It stops only when the worker stops or the partition is
  revoked; nothing is committed past the record.
- Any other failure is retried with exponential backoff; after `max_attempts` the event goes to
  the DLQ with the error. Offsets are committed only once the effect (or the DLQ copy) is durable.
- A DLQ send that fails (the DLQ topic missing, the broker away) is retried the same way: the
  partition pauses on that record, it never commits past it and the loop never dies of it.
- Partitions are worked concurrently, each strictly in order. A run of one partition's events is
  applied in one transaction (each event still claims its own inbox row): far fewer commits under
  load; if anything in the run fails, the run is rolled back and applied event by event instead.
  The offsets of a pass's partitions are kept once every partition has applied (or failed): a failed
  partition's offset is left out. Kept offsets go to the group coordinator in one request at most every
  `COMMIT_INTERVAL_S` (the idle wait is cut short to send them), before a rebalance takes their partitions
  (`_CommitBeforeRevoke`) and when the worker stops: a commit per pass was half of the chain's requests
  to the broker at low rates. A crash re-reads at most that interval's records; the inbox absorbs them.
- A `Gated` handler has nothing to do while its gates are shut (a TMF hub with no subscription of its API:
  `backbone.hub.fanout`): its gates are asked once per pass, after the poll, outside any transaction, and
  while they are shut its events are read and let go: no transaction, no inbox row (there is no effect to
  keep from happening twice), counted `events_consumed_total{outcome="unwanted"}`. A gate that cannot
  answer counts as open; one that answered open is believed for `GATE_OPEN_S` (asking is only a saving).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from prometheus_client import Histogram
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, create_model
from sqlalchemy import Table
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone import metrics
from backbone.correlation import reset_correlation_id, set_correlation_id
from backbone.db import autocommit
from backbone.envelope import Envelope, MalformedEvent, parse_envelope
from backbone.errors import Unavailable
from backbone.inbox import claim, claim_many
from backbone.kafka import PLAINTEXT, KafkaSecurity, Producer, make_consumer
from backbone.masking import mask_pii
from backbone.topics import dlq
from backbone.workers import Backoff, Worker, wake_on_commit

log = logging.getLogger("backbone.consumer")

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]
#: Whether a `Gated` handler has work, asked on a session of its own in autocommit (no transaction).
Gate = Callable[[AsyncSession], Awaitable[bool]]
# Applies a whole run of fresh (already claimed) events at once, set-based, in the caller's transaction.
BatchApplier = Callable[[AsyncSession, Sequence[Envelope]], Awaitable[None]]
#: Wire bytes → envelope (`parse_envelope`, or `typed_parser`'s); raises MalformedEvent.
Parser = Callable[[bytes | None], Envelope]


def typed_parser(payloads: Mapping[str, type[BaseModel]]) -> Parser:
    """`parse_envelope` for a consumer whose busiest event types are known (`payloads`: event type → payload
    model): a record of one of them is parsed, envelope and payload, in one pass in pydantic's core (its `data` is
    then the payload model, which `Envelope.payload` hands back as it is), where the envelope's `data` as a dict,
    then the payload validated from it, cost twice as much (SLA bench: 14.5 → 10 us per record). Any other record,
    and one of those types that does not validate so (a broken payload), is parsed by `parse_envelope` as before:
    the same envelope or MalformedEvent, and a broken payload fails in `payload()` as before (DLQ)."""
    if not payloads:
        return parse_envelope
    typed = [
        create_model(f"{model.__name__}Envelope", __base__=Envelope, type=(Literal[etype], ...),  # type: ignore[arg-type]
                     data=(model, ...))
        for etype, model in payloads.items()
    ]
    union: Any = typed[0] if len(typed) == 1 else Annotated[Union[tuple(typed)], Field(discriminator="type")]  # noqa: UP007
    adapter: TypeAdapter[Envelope] = TypeAdapter(union)

    def parse(raw: bytes | None) -> Envelope:
        if raw is not None:
            try:
                return adapter.validate_json(raw)
            except ValidationError:
                pass  # another type, or not valid as one of these: the general parse decides
        return parse_envelope(raw)

    return parse


@dataclass(frozen=True, eq=False)
class Gated:
    """A handler with nothing to do while every one of its `gates` is shut: the runner asks them once per
    pass, after the poll (so after the pass's events occurred), and lets the events of a shut handler go
    without a transaction or an inbox row. What a gate reads must therefore be what the handler reads in its
    transaction to decide it has nothing to do (the hub: its API's active subscriptions), and an open gate
    changes nothing: the handler runs in the event's transaction as any other and decides there."""

    handler: Handler
    gates: tuple[Gate, ...]

    async def __call__(self, session: AsyncSession, event: Envelope) -> None:
        await self.handler(session, event)


#: How long a gate that answered open is believed without asking again: believing it open is always safe
#: (the handler runs and decides in its transaction), only "shut" must be read in the pass that skips.
GATE_OPEN_S = 10.0


class PermanentError(Exception):
    """A failure that a retry cannot fix (e.g. the event contradicts the aggregate): DLQ at once."""


# SQLSTATE classes a retry can fix: connection exceptions (08), insufficient resources (53),
# operator intervention (57: admin shutdown, cannot connect now), serialization failure and deadlock.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57")
_TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03"}


def is_transient(exc: BaseException) -> bool:
    """True when the failure is the infrastructure's, not the event's: retrying must eventually work.

    Walks the cause chain (SQLAlchemy wraps asyncpg's errors, which wrap socket errors).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (Unavailable, KafkaError, OSError, TimeoutError, asyncio.TimeoutError,
                                sa_exc.DisconnectionError, sa_exc.TimeoutError, sa_exc.InterfaceError)):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        sqlstate = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(sqlstate, str) and (
            sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES or sqlstate in _TRANSIENT_SQLSTATES
        ):
            return True
        if type(current).__module__.startswith("asyncpg") and type(current).__name__ in {
            "ConnectionDoesNotExistError", "InterfaceError", "CannotConnectNowError",
            "ConnectionFailureError", "TooManyConnectionsError", "AdminShutdownError",
            "InternalClientError",
        }:
            return True
        current = current.__cause__ or current.__context__
    return False


# How long an idle consumer's poll waits: records (the fetcher hands them over as they arrive), a
# coordination error (aiokafka aborts the waiting poll with it) or `stop()` end the wait sooner, so the bound
# only decides how often an idle loop turns (it was once a second: docs/benchmarks.md, idle, pass 3).
IDLE_POLL_S = 30.0
DLQ_PENDING_PAUSED_AFTER_S = 2.0  # a DLQ send still unacknowledged after this reads as a paused partition


def hold_fetches_while_records_wait(consumer: AIOKafkaConsumer) -> None:
    """No fetch for a subset of partitions while fetched records wait for the pass that takes them all.

    aiokafka's fetcher, once records have waited 0.1 s unconsumed (its `prefetch_backoff`, not a constructor
    option), sends a fetch for the other partitions alone; that long poll can only end on records for those
    (or after `fetch_max_wait_ms`, 5 s), and while it is out no other fetch goes to the broker. A runner's pass
    takes every buffered record at once and lasts longer than 0.1 s under load: the next records of the
    partitions it was working (crm.orders in the EOMS bridge) then waited behind a fetch of idle ones
    (crm.complaints) for up to 5 s (docs/benchmarks.md, e2e orders, bridge stage). Held, the fetcher sends
    its next fetch, for every partition, as soon as the pass has taken the records (it wakes on consumption).
    """
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is not None and hasattr(fetcher, "_prefetch_backoff"):
        fetcher._prefetch_backoff = IDLE_POLL_S


def observe_many(histogram: Histogram, amount: float, n: int) -> None:
    """`n` observations of `amount` in a histogram (a labelled child) at once: the same buckets, count and sum as `n`
    calls of `observe` (prometheus_client's, a lock and a bucket search each: 1.5-3 us per event of a run, 2-4 % of
    the SLA's CPU per start), one bucket and the sum incremented once. A histogram without prometheus_client's
    parts (another version) is observed `n` times."""
    buckets, bounds, total = (getattr(histogram, a, None) for a in ("_buckets", "_upper_bounds", "_sum"))
    if buckets is None or bounds is None or total is None:
        for _ in range(n):
            histogram.observe(amount)
        return
    total.inc(amount * n)
    for bucket, bound in zip(buckets, bounds, strict=True):
        if amount <= bound:
            bucket.inc(n)
            break


class PartitionRevoked(Exception):
    """The partition left this consumer (or the worker is stopping) while a record was retried."""


@dataclass
class RetryPolicy:
    max_attempts: int = 5
    initial_s: float = 0.2
    max_s: float = 5.0
    # The cap of the unbounded retry of a transient failure (a database outage, a DLQ outage).
    transient_max_s: float = 5.0

    def delay(self, attempt: int) -> float:
        return Backoff(self.initial_s, self.max_s).delay(attempt)

    def transient_delay(self, attempt: int) -> float:
        return Backoff(self.initial_s, max(self.max_s, self.transient_max_s)).delay(attempt)


#: The most records one poll hands over (`ConsumerRunner._poll_records`).
POLL_RECORDS_MAX = 4000

#: The longest an applied record's offset waits to be committed (Kafka's own auto-commit waits 5 s). Only the
#: records a crash makes the group read again depend on it (the inbox absorbs them), never what is applied.
COMMIT_INTERVAL_S = 1.0
#: How long a rebalance or a stop waits for the kept offsets' commit (aiokafka retries a commit while the
#: coordinator is away): past it they are left, and the partitions' next owner reads those records again.
COMMIT_ON_LEAVE_S = 5.0


class _CommitBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Sends a runner's kept offsets of the partitions a rebalance is about to take away, so their next owner
    starts after what this one applied (aiokafka awaits it before rejoining the group)."""

    def __init__(self, runner: ConsumerRunner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.runner._flush_commits(only=revoked, within_s=COMMIT_ON_LEAVE_S)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        pass


class ConsumerRunner(Worker):
    """A `Worker` whose pass is one poll of its consumer group's partitions."""

    def __init__(
        self,
        *,
        name: str,
        bootstrap: str,
        topics: list[str],
        security: KafkaSecurity = PLAINTEXT,
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
        self.security = security
        self.topics = topics
        self.group_id = group_id
        self.handlers = handlers
        self.session_factory = session_factory
        self.inbox = inbox
        self.producer = producer
        self.retry = retry or RetryPolicy()
        self.batch_size = max(1, batch_size)
        self.apply_run = apply_run
        self.parse: Parser = parse_envelope  # a run's records (`parse_with`)
        self.started = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        # Partitions held on a record by a transient failure: "topic[partition]" → why (for /readyz).
        self.paused: dict[str, str] = {}
        self._wakes: list[Worker] = []
        self.idle_poll_s = IDLE_POLL_S
        self._idle_poll: asyncio.Future[dict[TopicPartition, list[ConsumerRecord]]] | None = None
        # The gates' answers of the current pass (None between passes: a gate is then asked at each use), and
        # when each gate last answered open (monotonic).
        self._pass_gates: dict[Gate, asyncio.Future[bool]] | None = None
        self._open_since: dict[Gate, float] = {}
        # Offsets whose effects are durable, not yet committed (`_commit`), and when the last commit went out.
        self.commit_interval_s = COMMIT_INTERVAL_S
        self._uncommitted: dict[TopicPartition, int] = {}
        self._committed_at = float("-inf")

    def parse_with(self, parser: Parser) -> None:
        """Parse a run's records with `parser` (`typed_parser`) instead of `parse_envelope`; the one-by-one path
        (after a failed run, with retries and the DLQ) keeps `parse_envelope`."""
        self.parse = parser

    def wake_on_commit(self, *workers: Worker) -> None:
        """Wake `workers` (of this process) after every transaction of this consumer that applied events:
        the service's worker that acts on what its handlers write (the SLA scanner on timers) can then
        sleep long when idle instead of polling."""
        self._wakes.extend(workers)

    async def setup(self) -> None:
        self._consumer = make_consumer(self.bootstrap, *self.topics, group_id=self.group_id, client_id=self.group_name,
                                       security=self.security, listener=_CommitBeforeRevoke(self))
        await self._consumer.start()
        hold_fetches_while_records_wait(self._consumer)
        log.info("consumer %s started on %s", self.group_name, ",".join(self.topics))

    async def step(self) -> float:
        if self._consumer is None:
            await self.setup()
        consumer = self._consumer
        assert consumer is not None
        # What the fetcher already holds, at once; when it holds nothing, wait for records (handed over as
        # they arrive), at most `idle_poll_s`: an idle consumer's loop turns that rarely, and stop() ends it.
        batches = await consumer.getmany(timeout_ms=0, max_records=self._poll_records(consumer))
        if not batches:
            batches = await self._wait_for_records(consumer)
            if not batches and self._uncommitted:
                await self._flush_commits(consumer)  # the wait ended when the kept offsets fell due
        self.started.set()
        if batches:
            # Every partition finishes (or fails) before the pass ends: a failed pass then rejoins from
            # the committed offsets with no sibling still committing on the old consumer.
            tps = list(batches)
            self._pass_gates = {}  # asked from now on: after every record of the pass was produced
            try:
                results = await asyncio.gather(
                    *(self._apply_partition(consumer, tp, batches[tp]) for tp in tps), return_exceptions=True
                )
            finally:
                self._pass_gates = None
            # The offsets of the partitions that applied their records, committed together (the group coordinator
            # takes a client's commits one at a time: a commit per partition made the pass wait for each in turn).
            await self._commit(consumer, {tp: r for tp, r in zip(tps, results, strict=True) if isinstance(r, int)})
            failures = [r for r in results if isinstance(r, BaseException) and not isinstance(r, PartitionRevoked)]
            if failures:
                raise failures[0]
        return 0.0

    def _poll_records(self, consumer: AIOKafkaConsumer) -> int:
        """How many records one poll may hand over: a run (`batch_size`, at least 500) for every assigned
        partition, at most POLL_RECORDS_MAX. With a fixed 500 a poll nearly always held one partition's
        records, so the partitions of a pass ran one after the other (SLA bench: 500 of one partition per
        poll); now a pass applies the runs of several partitions side by side."""
        partitions = max(1, len(consumer.assignment()))
        return min(POLL_RECORDS_MAX, max(500, self.batch_size) * partitions)

    async def _wait_for_records(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, list[ConsumerRecord]]:
        """The idle poll, as a task `stop()` can cancel (a stopping service does not wait out `idle_poll_s`).
        Records it had drained when cancelled are not committed: the next owner reads them again (inbox)."""
        if self.stopping:  # stop() came while the pass waited for an assignment
            return {}
        wait_s = self.idle_poll_s
        if self._uncommitted:  # no longer than the kept offsets may wait
            wait_s = min(wait_s, max(0.0, self._committed_at + self.commit_interval_s - time.monotonic()))
        poll = self._idle_poll = asyncio.ensure_future(
            consumer.getmany(timeout_ms=int(wait_s * 1000), max_records=self._poll_records(consumer)))
        try:
            batches: dict[TopicPartition, list[ConsumerRecord]] = await poll
            return batches
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self.stopping and poll.cancelled() and not (task is not None and task.cancelling()):
                return {}  # stop() cut the wait short; the loop ends
            raise
        finally:
            self._idle_poll = None

    def stop(self) -> None:
        super().stop()
        if self._idle_poll is not None:
            self._idle_poll.cancel()

    def health(self) -> str:
        if self.paused:
            return "paused: " + "; ".join(f"{tp} ({why})" for tp, why in sorted(self.paused.items()))
        return super().health()

    async def reset(self) -> None:
        # A failed pass may have fetched past uncommitted records: leave the group and rejoin, so
        # the next pass starts again from the committed offsets (redeliveries go to the inbox).
        await self.teardown()

    async def teardown(self) -> None:
        if self._consumer is not None:
            await self._flush_commits(within_s=COMMIT_ON_LEAVE_S)
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()

    async def _work_partition(self, consumer: object, tp: TopicPartition, msgs: list[ConsumerRecord]) -> None:
        """One partition's records applied, then its offset committed."""
        await self._commit(consumer, {tp: await self._apply_partition(consumer, tp, msgs)})

    async def _apply_partition(self, consumer: object, tp: TopicPartition, msgs: list[ConsumerRecord]) -> int:
        """Apply one partition's records in order (or dead-letter them); the offset to commit after them."""
        for start in range(0, len(msgs), self.batch_size):
            chunk = msgs[start:start + self.batch_size]
            leftover = chunk if len(chunk) == 1 else await self._apply_batch(chunk)
            for msg in leftover:
                await self.process(msg, consumer, tp)
        return int(msgs[-1].offset) + 1

    async def _commit(self, consumer: object, offsets: dict[TopicPartition, int]) -> None:
        """Keep offsets whose effects are durable, and record each partition's lag; send every kept offset once
        `commit_interval_s` has passed since the last commit."""
        for tp, offset in offsets.items():
            self._uncommitted[tp] = offset
            with contextlib.suppress(Exception):
                highwater = consumer.highwater(tp)  # type: ignore[attr-defined]
                if highwater is not None:
                    metrics.CONSUMER_LAG.labels(self.group_id, tp.topic, str(tp.partition)).set(
                        max(0, int(highwater) - offset))
        if self._uncommitted and time.monotonic() - self._committed_at >= self.commit_interval_s:
            await self._flush_commits(consumer)

    async def _flush_commits(self, consumer: object = None, only: set[TopicPartition] | None = None,
                             within_s: float | None = None) -> None:
        """Commit the kept offsets (of `only` those partitions), in one request, for the partitions still
        assigned: a partition already gone is its new owner's to commit (it re-reads; the inbox absorbs).
        `within_s` bounds the wait (a rebalance, a stop): a commit not done by then is given up."""
        client: Any = consumer if consumer is not None else self._consumer
        if client is None:
            return
        try:
            owned = client.assignment()
        except Exception:  # noqa: BLE001 - a consumer that cannot say is treated as still owning them
            owned = None
        taken = [tp for tp in self._uncommitted if only is None or tp in only]
        offsets = {tp: self._uncommitted.pop(tp) for tp in taken}
        offsets = {tp: o for tp, o in offsets.items() if owned is None or tp in owned}
        if only is None:
            self._committed_at = time.monotonic()
        if not offsets:
            return
        try:
            await asyncio.wait_for(client.commit(offsets), within_s)
        except TimeoutError:
            log.warning("offset commit for %s not done within %.0fs, left to the next owner",
                        ", ".join(map(str, offsets)), within_s)
        except CommitFailedError as exc:
            # Rebalanced away mid-batch: the new owner re-reads these; the inbox absorbs them.
            log.warning("offset commit failed for %s: %r", ", ".join(map(str, offsets)), exc)
        except KafkaError as exc:  # the coordinator away: kept for the next commit, unless a newer one came
            log.warning("offset commit failed for %s, kept: %r", ", ".join(map(str, offsets)), exc)
            for tp, offset in offsets.items():
                self._uncommitted.setdefault(tp, offset)

    async def _apply_batch(self, chunk: list[ConsumerRecord]) -> list[ConsumerRecord]:
        """Apply a run of one partition's events in one transaction: one multi-row inbox claim, then
        the handlers (or the service's set-based `apply_run`) for the events seen for the first time.

        Returns what is left to apply one by one: nothing on success; on a malformed event or any
        failure, the whole run (rolled back), to be applied singly with retries and the DLQ in
        partition order, so a bad event never takes good ones down with it.
        """
        envelopes: list[Envelope] = []
        parse = self.parse
        for msg in chunk:
            try:
                envelopes.append(parse(msg.value))
            except MalformedEvent:
                return chunk
        known = await self._wanted([e for e in envelopes if e.type in self.handlers])
        if not known:  # nothing to apply: no transaction
            self._count_run(envelopes, known, known, 0.0)
            return []
        started = time.perf_counter()
        try:
            async with self.session_factory() as session, session.begin():
                fresh = await claim_many(session, self.inbox, known, self.group_id)
                if fresh:
                    wake_on_commit(session, *self._wakes)
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
        self._count_run(envelopes, known, fresh, (time.perf_counter() - started) / max(1, len(known)))
        return []

    async def _wanted(self, envelopes: list[Envelope]) -> list[Envelope]:
        """`envelopes` less those whose handler is `Gated` with every gate shut (asked once per type here)."""
        shut = {t for t in {e.type for e in envelopes} if not await self._is_wanted(self.handlers[t])}
        return [e for e in envelopes if e.type not in shut] if shut else envelopes

    async def _is_wanted(self, handler: Handler) -> bool:
        if not isinstance(handler, Gated):
            return True
        for gate in handler.gates:
            if await self._gate_open(gate):
                return True
        return False

    async def _gate_open(self, gate: Gate) -> bool:
        """The gate's answer: believed open for `GATE_OPEN_S` once it said so, else asked once per pass."""
        since = self._open_since.get(gate)
        if since is not None and time.monotonic() - since < GATE_OPEN_S:
            return True
        memo = self._pass_gates
        if memo is None:
            return await self._ask(gate)
        answer = memo.get(gate)
        if answer is None:
            answer = memo[gate] = asyncio.ensure_future(self._ask(gate))
        return await asyncio.shield(answer)  # partitions of the pass share one read; one cancelled, not the rest

    async def _ask(self, gate: Gate) -> bool:
        try:
            async with self.session_factory() as session, autocommit(session):
                is_open = await gate(session)
        except Exception as exc:  # noqa: BLE001 - the gate is a saving: unanswered, the handler decides
            log.info("gate of %s unanswered, taken as open: %r", self.group_name, exc)
            return True
        if is_open:
            self._open_since[gate] = time.monotonic()
        return is_open

    def _count_run(self, envelopes: Sequence[Envelope], wanted: Sequence[Envelope], fresh: Sequence[Envelope],
                   per_event: float) -> None:
        """A run's metrics, each labelled series looked up once per event type (not once per event)."""
        applied = Counter(e.type for e in fresh)
        taken = Counter(e.type for e in wanted)
        for etype, n in Counter(e.type for e in envelopes).items():
            if etype not in self.handlers:
                metrics.EVENTS_SKIPPED.labels(self.group_id, etype).inc(n)
                continue
            if unwanted := n - taken[etype]:
                metrics.EVENTS_CONSUMED.labels(self.group_id, etype, "unwanted").inc(unwanted)
                n -= unwanted
            if done := applied[etype]:
                metrics.EVENTS_CONSUMED.labels(self.group_id, etype, "applied").inc(done)
                observe_many(metrics.EVENT_HANDLE_SECONDS.labels(self.group_id, etype), per_event, done)
            if n > done:
                metrics.EVENTS_CONSUMED.labels(self.group_id, etype, "duplicate").inc(n - done)

    async def process(self, msg: ConsumerRecord, consumer: object = None, tp: TopicPartition | None = None) -> None:
        try:
            envelope = parse_envelope(msg.value)
        except MalformedEvent as exc:
            await self._dead_letter(msg, "malformed", exc.reason, consumer, tp)
            return
        handler = self.handlers.get(envelope.type)
        if handler is None:
            metrics.EVENTS_SKIPPED.labels(self.group_id, envelope.type).inc()
            return
        if not await self._is_wanted(handler):
            metrics.EVENTS_CONSUMED.labels(self.group_id, envelope.type, "unwanted").inc()
            return
        token = set_correlation_id(envelope.correlation_id)
        try:
            await self._apply_with_retries(msg, envelope, handler, consumer, tp)
        finally:
            reset_correlation_id(token)

    def _still_ours(self, consumer: object, tp: TopicPartition | None) -> bool:
        if self.stopping:
            return False
        if consumer is None or tp is None:
            return True
        try:
            return tp in consumer.assignment()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - a consumer that cannot say is treated as still owning it
            return True

    async def _hold(self, msg: ConsumerRecord, consumer: object, tp: TopicPartition | None, attempt: int,
                    why: str) -> None:
        """Pause this partition on `msg` for one backoff; raise `PartitionRevoked` if it is no longer ours."""
        label = f"{msg.topic}[{msg.partition}]"
        if not self._still_ours(consumer, tp):
            self._resume(msg)
            raise PartitionRevoked(label)
        self._mark_paused(msg, why)
        delay = self.retry.transient_delay(attempt)
        log.warning("%s paused at offset %d (attempt %d, %s); retrying in %.1fs",
                    label, msg.offset, attempt, why, delay)
        await self.sleep(delay)
        if not self._still_ours(consumer, tp):
            self._resume(msg)
            raise PartitionRevoked(label)

    def _mark_paused(self, msg: ConsumerRecord, why: str) -> None:
        label = f"{msg.topic}[{msg.partition}]"
        if label not in self.paused:
            metrics.CONSUMER_PAUSES.labels(self.group_id, msg.topic).inc()
        self.paused[label] = why[:200]
        metrics.CONSUMER_PAUSED.labels(self.group_id, msg.topic, str(msg.partition)).set(1)

    def _resume(self, msg: ConsumerRecord) -> None:
        label = f"{msg.topic}[{msg.partition}]"
        if self.paused.pop(label, None) is not None:
            metrics.CONSUMER_PAUSED.labels(self.group_id, msg.topic, str(msg.partition)).set(0)
            log.info("%s resumed at offset %d", label, msg.offset)

    async def _apply_with_retries(self, msg: ConsumerRecord, envelope: Envelope, handler: Handler,
                                  consumer: object = None, tp: TopicPartition | None = None) -> None:
        extra = {"event_id": envelope.id, "event_type": envelope.type, "subject": envelope.subject}
        attempt = 0  # failures the event may be to blame for (bounded by max_attempts)
        transient = 0  # infrastructure failures in a row (unbounded)
        while True:
            started = time.perf_counter()
            try:
                async with self.session_factory() as session, session.begin():
                    if not await claim(session, self.inbox, envelope, self.group_id):
                        metrics.EVENTS_CONSUMED.labels(self.group_id, envelope.type, "duplicate").inc()
                        self._resume(msg)
                        return
                    await handler(session, envelope)
                    wake_on_commit(session, *self._wakes)
                metrics.EVENTS_CONSUMED.labels(self.group_id, envelope.type, "applied").inc()
                metrics.EVENT_HANDLE_SECONDS.labels(self.group_id, envelope.type).observe(
                    time.perf_counter() - started
                )
                self._resume(msg)
                return
            except MalformedEvent as exc:
                await self._dead_letter(msg, "schema", exc.reason, consumer, tp)
                return
            except PermanentError as exc:
                await self._dead_letter(msg, "rejected", str(exc), consumer, tp)
                return
            except Exception as exc:
                if is_transient(exc):
                    transient += 1
                    metrics.CONSUMER_TRANSIENT_RETRIES.labels(self.group_id, msg.topic).inc()
                    await self._hold(msg, consumer, tp, transient, f"transient: {type(exc).__name__}")
                    continue
                transient = 0
                attempt += 1
                if attempt >= self.retry.max_attempts:
                    log.exception("giving up on event after %d attempts", attempt, extra=extra)
                    await self._dead_letter(msg, "failed", f"{type(exc).__name__}: {exc}", consumer, tp)
                    return
                delay = self.retry.delay(attempt)
                log.warning("attempt %d failed (%r); retrying in %.1fs", attempt, exc, delay, extra=extra)
                await asyncio.sleep(delay)

    async def _dead_letter(self, msg: ConsumerRecord, kind: str, reason: str,
                           consumer: object = None, tp: TopicPartition | None = None) -> None:
        """Copy the record to its DLQ; until the broker acknowledges it, the partition pauses on it."""
        attempt = 0
        while True:
            try:
                # The producer may wait up to its request timeout for the DLQ's metadata: the partition
                # reads paused meanwhile (never cancelled: a cancelled send could still go out).
                send = asyncio.ensure_future(self._send_dead_letter(msg, kind, reason))
                while not send.done():
                    await asyncio.wait({send}, timeout=DLQ_PENDING_PAUSED_AFTER_S)
                    if not send.done():
                        self._mark_paused(msg, "dlq send pending")
                send.result()
                self._resume(msg)
                return
            except Exception as exc:  # noqa: BLE001 - the DLQ away: hold the record, never skip it
                attempt += 1
                metrics.CONSUMER_TRANSIENT_RETRIES.labels(self.group_id, msg.topic).inc()
                await self._hold(msg, consumer, tp, attempt, f"dlq send failed: {type(exc).__name__}")

    async def _send_dead_letter(self, msg: ConsumerRecord, kind: str, reason: str) -> None:
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
