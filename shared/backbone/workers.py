"""Background work, one way: a `Worker` loop, a `Backoff`, and the "claim due rows" statement.

Every loop a service runs (the outbox relay, the Kafka consumers, the SLA due-timer scan, the
EOMS forwarder, notify's dispatchers and digests, the retention purge) is a `Worker`:

    class Forwarder(Worker):
        async def step(self) -> float:      # one pass; returns the seconds to wait (0: go on at once)
            ...

or, for a plain function, `Worker.every(name, interval_s, pass_fn)`.

The loop stops on `stop()`, sleeps interruptibly (`wake()` cuts a wait short), survives a failing
pass (logged, counted, retried after a jittered backoff, `reset()` called so the worker can drop
state it can no longer trust), and records a heartbeat and its state for /readyz and /metrics.

Event-driven rather than polling: a transaction that queues work for a worker of the same process
calls `wake_on_commit(session, worker)`; the worker is woken once that transaction commits (never
on a rollback), so it can wait long between passes when idle (its poll is only the fallback, for
work queued by other instances). `after_commit(session, key, fn)` is the general form (the outbox
relay's wake-up uses it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy import ColumnElement, Select, Table, event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

log = logging.getLogger("backbone.workers")

WORKER_ERRORS = Counter("worker_errors_total", "Failed passes of a background worker", ["worker"])
WORKER_UP = Gauge("worker_up", "1 while a background worker's loop runs", ["worker"])
WORKER_HEARTBEAT = Gauge("worker_last_pass_timestamp_seconds", "When a worker last finished a pass", ["worker"])


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits about `initial_s * 2**(n-1)`, at most `max_s`.

    `jitter` takes up to that fraction off each delay (never adds to it), so instances that failed
    together do not retry in lockstep.
    """

    initial_s: float = 0.2
    max_s: float = 5.0
    jitter: float = 0.2

    def delay(self, attempt: int) -> float:
        base = min(self.max_s, self.initial_s * 2 ** min(max(attempt, 1) - 1, 32))
        return float(base * (1 - self.jitter * random.random()))


class Worker:
    """A named background loop. Subclasses implement `step`; `run` is the loop the runtime starts."""

    name: str = "worker"
    error_backoff: Backoff = Backoff(initial_s=0.5, max_s=10.0)

    def __init__(self, name: str | None = None, *, error_backoff: Backoff | None = None) -> None:
        if name is not None:
            self.name = name
        if error_backoff is not None:
            self.error_backoff = error_backoff
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self.failures = 0  # consecutive failed passes
        self.last_pass: float | None = None

    # -- what a worker does ---------------------------------------------------------------------------
    async def setup(self) -> None:
        """Before the first pass (open a client, join a group)."""

    async def step(self) -> float:
        """One pass; the seconds to wait before the next (0: go on at once)."""
        raise NotImplementedError

    async def reset(self) -> None:
        """After a failed pass: drop state the next pass cannot trust (default: nothing)."""

    async def teardown(self) -> None:
        """After the last pass, also when the loop is cancelled."""

    # -- the loop -------------------------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def wake(self) -> None:
        """Cut the current wait short: there is work (e.g. a commit just queued some)."""
        self._wake.set()

    async def sleep(self, seconds: float) -> None:
        """Wait up to `seconds`, less if woken or stopped."""
        if seconds <= 0 or self.stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()

    async def run(self) -> None:
        WORKER_UP.labels(self.name).set(1)
        try:
            await self.setup()
            while not self.stopping:
                try:
                    wait = await self.step()
                    self.failures = 0
                except asyncio.CancelledError:
                    raise
                except Exception:
                    self.failures += 1
                    WORKER_ERRORS.labels(self.name).inc()
                    wait = self.error_backoff.delay(self.failures)
                    log.exception("%s: pass failed (%d in a row); next try in %.1fs", self.name, self.failures, wait)
                    with contextlib.suppress(Exception):
                        await self.reset()
                self.last_pass = time.time()
                WORKER_HEARTBEAT.labels(self.name).set(self.last_pass)
                await self.sleep(wait)
        finally:
            WORKER_UP.labels(self.name).set(0)
            await self.teardown()

    @staticmethod
    def every(name: str, interval_s: float, pass_fn: Callable[[], Awaitable[Any]]) -> Worker:
        """A worker that runs `pass_fn` every `interval_s` seconds."""
        return _Periodic(name, interval_s, pass_fn)

    def health(self) -> str:
        return "ok" if self.failures == 0 else f"failing: {self.failures} passes in a row"


class _Periodic(Worker):
    def __init__(self, name: str, interval_s: float, pass_fn: Callable[[], Awaitable[Any]]) -> None:
        super().__init__(name)
        self.interval_s = interval_s
        self.pass_fn = pass_fn

    async def step(self) -> float:
        await self.pass_fn()
        return self.interval_s


_AFTER_COMMIT = "backbone.workers.after_commit"  # session.info: key -> callback for the current transaction


def after_commit(session: AsyncSession | Session, key: object, fn: Callable[[], object]) -> None:
    """Run `fn` once the session's current transaction commits; dropped if it rolls back. One per `key`
    per transaction (a consumer's run that queues work for a hundred events wakes a worker once)."""
    session.info.setdefault(_AFTER_COMMIT, {})[key] = fn


def wake_on_commit(session: AsyncSession | Session, *workers: Worker) -> None:
    """Wake `workers` (of this process) once the session's current transaction commits."""
    for worker in workers:
        after_commit(session, ("wake", id(worker)), worker.wake)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for fn in session.info.pop(_AFTER_COMMIT, {}).values():
        try:
            fn()
        except Exception:  # a wake-up that fails costs a fallback poll, never the commit that happened
            log.exception("after-commit callback failed")


@event.listens_for(Session, "after_transaction_end")
def _drop_after_commit(session: Session, transaction: Any) -> None:
    # The outermost transaction ended: committed (the callbacks already ran) or rolled back (dropped).
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_AFTER_COMMIT, None)


def until_due(due_in_s: float | None, *, at_least_s: float, at_most_s: float) -> float:
    """How long an idle worker sleeps: until its next item is due (`due_in_s`; None: nothing waits), at least
    `at_least_s` (passes stay that far apart) and at most `at_most_s` (the fallback for work it is not woken for)."""
    return max(at_least_s, at_most_s if due_in_s is None else min(at_most_s, due_in_s))


def claim_due(table: Table, *where: ColumnElement[bool], order_by: Any, limit: Any,
              columns: tuple[Any, ...] | None = None) -> Select[Any]:
    """Rows that are due, locked for this transaction, skipping rows another worker or instance holds.

    `FOR UPDATE SKIP LOCKED`: several workers and instances share the work and never take one row
    twice at the same time; a row is released by the commit (done) or the rollback (a crash: due again).
    """
    stmt = select(*(columns or (table,))).where(*where).order_by(order_by).limit(limit)
    return stmt.with_for_update(skip_locked=True)
