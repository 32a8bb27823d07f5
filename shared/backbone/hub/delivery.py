"""The hub's delivery worker: POSTs queued TMF events to their subscribers.

One pass claims due rows (`claim_due`: `FOR UPDATE SKIP LOCKED`, so several instances share the queue)
that are the *first pending row of their (subscription, entity)*: event N+1 of an order never reaches
a subscriber before event N was delivered (or given up). Claimed rows are leased (`next_attempt_at`
moved `HUB_LEASE_S` ahead) and the transaction ends at once: no database connection is held while a
callback runs, and a process killed mid-callback leaves rows that are due again when the lease runs out
(delivered at least once; the listener deduplicates on `X-Hub-Event-Id`).

Waking: the worker sleeps between passes only until something can be claimed. The transaction that queues
rows (`fan_out`, a redelivery) wakes the delivery workers of its process when it commits
(`wake_after_commit`); a subscriber's task that ends wakes the worker (that subscriber's next rows are
claimable again); when nothing was claimed, the worker sleeps until the earliest pending row of an
unblocked subscriber is due (a retry, an expired lease) or an open breaker goes half-open, at least
`HUB_POLL_S` and at most `HUB_IDLE_POLL_S` (the fallback for rows queued by another process).

The rows of one subscriber go to one task (at most `HUB_SUBSCRIBER_CONCURRENCY` callbacks at a time,
`HUB_CONCURRENCY` for all subscribers together, each bounded by `HUB_TIMEOUT_S`); while that task runs,
the subscriber's rows are not claimed again, and the pass itself never waits for a callback. So a slow
or dead subscriber holds only its own task. Its `Breaker` opens after `HUB_BREAKER_FAILURES` failures in
a row: its rows are then not claimed at all until `HUB_BREAKER_RESET_S` has passed, then one row is tried.

Outcomes: 2xx = delivered; 410 = the subscription ends (`unsubscribed`, its pending rows `cancelled`);
anything else (another status, a timeout, a refused address) = retried after `Backoff(HUB_RETRY_INITIAL_S,
HUB_RETRY_MAX_S)` with jitter, for `HUB_RETRY_WINDOW_H` (24 h) from queueing, then `failed`. Redirects are
not followed (a redirect to an internal address would bypass the SSRF guard).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import ColumnElement, and_, bindparam, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from backbone import metrics
from backbone.hub.breaker import OPEN, Breaker
from backbone.hub.model import ACTIVE, CANCELLED, DELIVERED, FAILED, PENDING, UNSUBSCRIBED, HubTables
from backbone.hub.settings import HubSettings
from backbone.hub.signing import ATTEMPT_HEADER, DELIVERY_HEADER, signed_headers
from backbone.hub.ssrf import CallbackPolicy, CallbackRefused, check_callback
from backbone.retention import RetentionRule, RetentionWorker
from backbone.workers import Backoff, Worker, after_commit, claim_due, until_due

log = logging.getLogger("backbone.hub")


@dataclass(frozen=True)
class Outcome:
    kind: str  # delivered | gone | error | released (not attempted: the breaker opened meanwhile)
    status: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Subscriber:
    id: str
    callback: str
    secret: str


#: The delivery workers of this process, by the schema of their tables (woken by the commits that queue rows).
_LOCAL: dict[str, list[HubDeliveryWorker]] = {}


def wake_after_commit(session: AsyncSession | Session, tables: HubTables) -> None:
    """Wake this process's delivery workers of `tables` once the session's transaction commits (rows queued)."""
    schema = tables.delivery.schema or "public"

    def wake() -> None:
        for worker in _LOCAL.get(schema, ()):
            worker.wake()

    after_commit(session, ("hub-delivery", schema), wake)


class HubDeliveryWorker(Worker):
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], tables: HubTables, settings: HubSettings,
                 *, name: str | None = None) -> None:
        self.schema = tables.delivery.schema or "public"
        super().__init__(name or f"hub-delivery-{self.schema}")
        self.session_factory = session_factory
        self.tables = tables
        self.settings = settings
        self.policy: CallbackPolicy = settings.hub_policy
        self.backoff = Backoff(initial_s=settings.hub_retry_initial_s, max_s=settings.hub_retry_max_s, jitter=0.3)
        self.breakers: dict[str, Breaker] = {}
        self.inflight: dict[str, asyncio.Task[None]] = {}
        # One small connection pool per subscriber (httpcore's pool work grows with the requests it holds:
        # one shared pool for every subscriber cost more CPU per callback than the callback itself).
        self.clients: dict[str, httpx.AsyncClient] = {}
        self._slots: asyncio.Semaphore | None = None
        self._ready = False

    def breaker(self, subscription_id: str) -> Breaker:
        b = self.breakers.get(subscription_id)
        if b is None:
            b = self.breakers[subscription_id] = Breaker(self.settings.hub_breaker_failures,
                                                         self.settings.hub_breaker_reset_s)
        return b

    async def setup(self) -> None:
        self._slots = asyncio.Semaphore(self.settings.hub_concurrency)
        self._ready = True
        local = _LOCAL.setdefault(self.schema, [])
        if self not in local:
            local.append(self)

    def client(self, subscription_id: str) -> httpx.AsyncClient:
        client = self.clients.get(subscription_id)
        if client is None:
            n = self.settings.hub_subscriber_concurrency
            client = self.clients[subscription_id] = httpx.AsyncClient(
                timeout=httpx.Timeout(self.settings.hub_timeout_s), follow_redirects=False, trust_env=False,
                limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
                headers={"User-Agent": "groupsuite-hub/1"},
            )
        return client

    async def teardown(self) -> None:
        tasks = list(self.inflight.values())
        if tasks:
            # Let callbacks in flight finish briefly; the rest are cancelled (their rows are due again
            # when the lease runs out: at least once).
            _, pending = await asyncio.wait(tasks, timeout=2.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self.inflight.clear()
        clients, self.clients = list(self.clients.values()), {}
        for client in clients:
            await client.aclose()
        self._ready = False
        if self in (local := _LOCAL.get(self.schema, [])):
            local.remove(self)

    # -- one pass ----------------------------------------------------------------------------------
    async def step(self) -> float:
        if not self._ready:
            await self.setup()
        for sid, task in list(self.inflight.items()):
            if task.done():
                del self.inflight[sid]
                if not task.cancelled() and (exc := task.exception()) is not None:
                    log.error("hub delivery to %s failed: %r", sid, exc)
        now = time.monotonic()
        blocked = set(self.inflight)
        trial: set[str] = set()
        for sid, b in self.breakers.items():
            state = b.state(now)
            metrics.HUB_BREAKER_OPEN.labels(self.schema, sid).set(1 if state == OPEN else 0)
            if state == OPEN:
                blocked.add(sid)
            elif b.opened_at is not None:
                trial.add(sid)  # half-open: one row only
        claimed = await self._claim(blocked, trial)
        for sub, rows in claimed.items():
            self.inflight[sub.id] = asyncio.create_task(self._deliver_group(sub, rows), name=f"hub-{sub.id}")
        if any(claimed.values()):
            return 0.0
        return await self._idle_wait(blocked, now)

    def _claimable(self, blocked: set[str]) -> list[ColumnElement[bool]]:
        """Pending rows of active, unblocked subscriptions that are first of their (subscription, entity)."""
        d, s = self.tables.delivery, self.tables.subscription
        earlier = d.alias("earlier")
        where = [
            d.c.status == PENDING,
            d.c.subscription_id.in_(select(s.c.id).where(s.c.state == ACTIVE)),
            ~exists().where(earlier.c.subscription_id == d.c.subscription_id, earlier.c.entity_id == d.c.entity_id,
                            earlier.c.status == PENDING, earlier.c.id < d.c.id),
        ]
        if blocked:
            where.append(d.c.subscription_id.notin_(sorted(blocked)))
        return where

    async def _idle_wait(self, blocked: set[str], now: float) -> float:
        """Nothing claimable now: the seconds until a row is due or a breaker half-opens, within
        [`hub_poll_s`, `hub_idle_poll_s`]. Rows queued in this process wake the worker sooner."""
        d = self.tables.delivery
        async with self.session_factory() as session:
            due = (await session.execute(select(func.min(d.c.next_attempt_at)).where(*self._claimable(blocked))
                                         )).scalar_one_or_none()
        due_in = [(due - datetime.now(UTC)).total_seconds()] if due is not None else []
        due_in += [reopens - now for b in self.breakers.values() if (reopens := b.reopens_at()) is not None
                   and reopens > now]
        return until_due(min(due_in, default=None), at_least_s=self.settings.hub_poll_s,
                         at_most_s=self.settings.hub_idle_poll_s)

    async def _claim(self, blocked: set[str], trial: set[str]) -> dict[Subscriber, list[Any]]:
        d, s = self.tables.delivery, self.tables.subscription
        where = [*self._claimable(blocked), d.c.next_attempt_at <= datetime.now(UTC)]
        per_sub = self.settings.hub_subscriber_batch
        async with self.session_factory() as session, session.begin():
            rows = (await session.execute(claim_due(d, *where, order_by=d.c.id,
                                                    limit=self.settings.hub_batch_size))).all()
            taken: dict[str, list[Any]] = defaultdict(list)
            for row in rows:
                group = taken[row.subscription_id]
                if len(group) < (1 if row.subscription_id in trial else per_sub):
                    group.append(row)
            if not taken:
                return {}
            lease_until = datetime.now(UTC) + timedelta(seconds=self.settings.hub_lease_s)
            ids = [r.id for group in taken.values() for r in group]
            await session.execute(update(d).where(d.c.id.in_(ids)).values(next_attempt_at=lease_until))
            subs = (await session.execute(select(s.c.id, s.c.callback, s.c.secret).where(
                s.c.id.in_(list(taken))))).all()
        by_id = {sub.id: Subscriber(sub.id, sub.callback, sub.secret) for sub in subs}
        return {by_id[sid]: group for sid, group in taken.items() if sid in by_id}

    # -- one subscriber's rows ---------------------------------------------------------------------
    async def _deliver_group(self, sub: Subscriber, rows: list[Any]) -> None:
        breaker = self.breaker(sub.id)
        lane = asyncio.Semaphore(self.settings.hub_subscriber_concurrency)
        outcomes: dict[int, Outcome] = {}

        async def one(row: Any) -> None:
            async with lane:
                if not breaker.allows(time.monotonic()):
                    outcomes[row.id] = Outcome("released")
                    return
                assert self._slots is not None
                async with self._slots:
                    outcome = await self._attempt(sub, row)
                outcomes[row.id] = outcome
                if outcome.kind == "error":
                    if breaker.record_failure(time.monotonic()):
                        log.warning("hub: breaker open for subscription %s (%s)", sub.id, outcome.error)
                else:
                    breaker.record_success()

        try:
            await asyncio.gather(*(one(r) for r in rows))
            await self._record(sub, rows, outcomes)
        finally:
            self.wake()  # this subscriber's next rows (and retries due meanwhile) can be claimed now

    async def _attempt(self, sub: Subscriber, row: Any) -> Outcome:
        try:
            await check_callback(sub.callback, self.policy)
        except CallbackRefused as exc:
            return Outcome("error", None, exc.message[:500])
        body = row.body.encode()
        headers = signed_headers(sub.secret, body, event_id=str(row.event_id), event_type=row.event_type)
        headers[DELIVERY_HEADER] = str(row.id)
        headers[ATTEMPT_HEADER] = str(row.attempts + 1)
        try:
            response = await self.client(sub.id).post(sub.callback, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Outcome("error", None, f"{type(exc).__name__}: {exc}"[:500])
        if 200 <= response.status_code < 300:
            return Outcome("delivered", response.status_code)
        if response.status_code == 410:
            return Outcome("gone", 410)
        return Outcome("error", response.status_code, f"HTTP {response.status_code}")

    async def _record(self, sub: Subscriber, rows: list[Any], outcomes: dict[int, Outcome]) -> None:
        d, s = self.tables.delivery, self.tables.subscription
        now = datetime.now(UTC)
        window = timedelta(hours=self.settings.hub_retry_window_h)
        breaker = self.breaker(sub.id)
        reopen = breaker.reopens_at()
        delivered, retry, failed, released = [], [], [], []
        gone = False
        for row in rows:
            o = outcomes.get(row.id, Outcome("released"))
            if o.kind == "delivered":
                delivered.append({"rid": row.id, "st": o.status})
                waited = (now - row.queued_at).total_seconds()
                metrics.HUB_DELIVERY_SECONDS.labels(self.schema).observe(max(0.0, waited))
            elif o.kind == "gone":
                gone = True
            elif o.kind == "released":
                wait = max(0.0, (reopen or time.monotonic()) - time.monotonic())
                released.append({"rid": row.id, "at": now + timedelta(seconds=wait)})
            elif now - row.queued_at >= window:
                failed.append({"rid": row.id, "st": o.status, "err": o.error})
            else:
                delay = self.backoff.delay(row.attempts + 1)
                retry.append({"rid": row.id, "st": o.status, "err": o.error, "at": now + timedelta(seconds=delay)})
        async with self.session_factory() as session, session.begin():
            key = d.c.id == bindparam("rid")
            if delivered:
                await session.execute(update(d).where(key).values(
                    status=DELIVERED, attempts=d.c.attempts + 1, finished_at=now, last_status=bindparam("st"),
                    last_error=None), delivered)
            if retry:
                await session.execute(update(d).where(key, d.c.status == PENDING).values(
                    attempts=d.c.attempts + 1, next_attempt_at=bindparam("at"), last_status=bindparam("st"),
                    last_error=bindparam("err")), retry)
            if failed:
                await session.execute(update(d).where(key, d.c.status == PENDING).values(
                    status=FAILED, attempts=d.c.attempts + 1, finished_at=now, last_status=bindparam("st"),
                    last_error=bindparam("err")), failed)
            if released:
                await session.execute(update(d).where(key, d.c.status == PENDING).values(
                    next_attempt_at=bindparam("at")), released)
            if gone:
                await session.execute(update(s).where(s.c.id == sub.id, s.c.state == ACTIVE).values(
                    state=UNSUBSCRIBED, ended_at=now, ended_reason="the listener answered 410 Gone"))
                await session.execute(update(d).where(and_(d.c.subscription_id == sub.id, d.c.status == PENDING))
                                      .values(status=CANCELLED, finished_at=now, last_status=410,
                                              last_error="subscription ended: 410 Gone"))
        for outcome, n in (("delivered", len(delivered)), ("retrying", len(retry)), ("failed", len(failed))):
            if n:
                metrics.HUB_DELIVERIES.labels(self.schema, outcome).inc(n)
        if gone:
            if (client := self.clients.pop(sub.id, None)) is not None:
                await client.aclose()
            metrics.HUB_DELIVERIES.labels(self.schema, "unsubscribed").inc()
            log.info("hub: subscription %s ended (410 Gone)", sub.id)
        if failed:
            log.warning("hub: %d deliveries to %s failed for good after the retry window", len(failed), sub.id)


def hub_retention(engine: AsyncEngine, tables: HubTables, settings: HubSettings, *, interval_s: float,
                  batch_size: int) -> RetentionWorker:
    """Purges delivery rows finished (delivered, failed, cancelled) more than `HUB_RETENTION_H` ago."""
    d = tables.delivery
    rule = RetentionRule(d, d.c.finished_at, timedelta(hours=settings.hub_retention_h), d.c.id)
    worker = RetentionWorker(engine, [rule], interval_s=interval_s, batch_size=batch_size, schema=d.schema)
    worker.name = f"retention-{d.schema}-hub"
    return worker


def hub_workers(engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], tables: HubTables,
                settings: HubSettings, *, retention_interval_s: float = 600.0, retention_batch_size: int = 5000
                ) -> list[Worker]:
    """The delivery worker and the retention of its rows (none when RUN_HUB is false)."""
    if not settings.run_hub:
        return []
    return [HubDeliveryWorker(session_factory, tables, settings),
            hub_retention(engine, tables, settings, interval_s=retention_interval_s, batch_size=retention_batch_size)]


