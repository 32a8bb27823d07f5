"""This instance's lease on its `sending` rows, and the recovery of the rows of dead instances.

Each instance holds a PostgreSQL advisory lock (keyed by its instance id) for its lifetime on a
dedicated connection (`LeaseHolder`); PostgreSQL drops it when the process dies. A row in
`sending` carries `claimed_by` = the instance id, so `recover()` can tell the rows of a dead
instance (its lock is free) and hand them back to the queue at once, flagged `uncertain`: the one
at-least-once window (see `notify.dispatch`).

Without its lock an instance must not claim (another instance could recover what it sends):
`Lease.alive` is set only while the lock is held, and the dispatch workers wait for it. The lock
connection's end is seen at once (asyncpg's termination listener: PostgreSQL restarted, the backend
terminated, the socket closed), not at the next ping; the ping every KEEPALIVE_S (30 s) is left for a
connection that a middlebox dropped without a word.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backbone.ids import new_id
from backbone.workers import Backoff, Worker
from notify.models import deliveries

log = logging.getLogger("notify.dispatch.lease")

LOCK_CLASS = 7263  # advisory lock namespace of the instances' liveness locks
KEEPALIVE_S = 30.0
_LOCK = text("SELECT pg_advisory_lock(:c, :k)")
_TRY_LOCK = text("SELECT pg_try_advisory_lock(:c, :k)")
_UNLOCK = text("SELECT pg_advisory_unlock(:c, :k)")
_PING = text("SELECT 1")
_UNCERTAIN = text("""'{"uncertain": true}'::jsonb""")


def lock_key(instance: str) -> int:
    return zlib.crc32(instance.encode()) - 2**31  # a signed int4


def _lock_params(instance: str) -> dict[str, int]:
    return {"c": LOCK_CLASS, "k": lock_key(instance)}


class Lease:
    """Who this instance is (`claimed_by` of its rows), whether it holds its lock, what it has in flight."""

    def __init__(self) -> None:
        self.instance = new_id("ins")
        self.alive = asyncio.Event()
        self._in_flight = 0
        self._drained = asyncio.Event()
        self._drained.set()

    @contextlib.asynccontextmanager
    async def sending(self) -> AsyncIterator[None]:
        """Around a claimed row's send and outcome: the lock is not given up while one is in flight."""
        self._in_flight += 1
        self._drained.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._drained.set()

    async def drained(self, within_s: float) -> None:
        """Until no send is in flight, or `within_s` has passed."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), within_s)


class LeaseHolder(Worker):
    """Holds this instance's liveness lock on a dedicated connection, pinging it; re-takes it if lost."""

    error_backoff = Backoff(initial_s=0.5, max_s=2.0)

    def __init__(self, engine: AsyncEngine, lease: Lease, *, stop_grace_s: float = 2.5,
                 keepalive_s: float = KEEPALIVE_S) -> None:
        super().__init__("notify-lease")
        self.engine = engine
        self.lease = lease
        self.stop_grace_s = stop_grace_s
        self.keepalive_s = keepalive_s
        self._conn: AsyncConnection | None = None
        self._raw: Any = None  # the lock connection's asyncpg connection, watched for its end

    def _lost(self, raw: Any) -> None:
        """asyncpg's termination listener of the lock connection: stop claiming now, re-take the lock."""
        if raw is self._raw:
            self.lease.alive.clear()
            self.wake()  # the next pass finds the connection closed: reset() and a new lock

    async def step(self) -> float:
        if self._conn is None:
            conn = await self.engine.connect()
            try:
                await conn.execute(_LOCK, _lock_params(self.lease.instance))
                await conn.commit()
            except BaseException:
                with contextlib.suppress(Exception):
                    await conn.invalidate()
                raise
            self._conn = conn
            self._raw = (await conn.get_raw_connection()).driver_connection
            self._raw.add_termination_listener(self._lost)
            self.lease.alive.set()
            log.info("instance %s holds its liveness lock", self.lease.instance)
        else:
            await self._conn.execute(_PING)
            await self._conn.commit()
        return self.keepalive_s

    async def reset(self) -> None:
        # The lock connection is gone: stop claiming first (another instance may recover our rows).
        self.lease.alive.clear()
        log.warning("liveness connection lost; dispatch paused until the lock is held again")
        await self._drop(unlock=False)

    async def teardown(self) -> None:
        # Stopping: claim nothing more, let the sends in flight commit their outcome, then let go.
        self.lease.alive.clear()
        await self.lease.drained(self.stop_grace_s)
        await self._drop(unlock=True)

    async def _drop(self, *, unlock: bool) -> None:
        conn, self._conn = self._conn, None
        raw, self._raw = self._raw, None
        if raw is not None:  # the connection goes back to the pool: its end is no longer ours to watch
            with contextlib.suppress(Exception):
                raw.remove_termination_listener(self._lost)
        if conn is None:
            return
        try:
            if unlock:
                await conn.execute(_UNLOCK, _lock_params(self.lease.instance))
                await conn.commit()
                await conn.close()
            else:
                await conn.invalidate()
        except Exception:  # noqa: BLE001 - a connection we cannot unlock is thrown away, lock and all
            with contextlib.suppress(Exception):
                await conn.invalidate()


async def _is_dead(conn: AsyncConnection, instance: str) -> bool:
    got = (await conn.execute(_TRY_LOCK, _lock_params(instance))).scalar()
    if got:
        await conn.execute(_UNLOCK, _lock_params(instance))
    return bool(got)


async def recover(engine: AsyncEngine, lease: Lease) -> int:
    """Requeue `sending` rows of dead instances (marked uncertain: the one at-least-once window)."""
    d = deliveries
    recovered = 0
    async with engine.connect() as conn:
        owners = [r[0] for r in await conn.execute(
            select(d.c.claimed_by).where(d.c.status == "sending", d.c.claimed_by.is_not(None)).distinct()
        )]
        for owner in owners:
            if owner == lease.instance or not await _is_dead(conn, owner):
                continue
            result = await conn.execute(
                update(d)
                .where(d.c.status == "sending", d.c.claimed_by == owner)
                .values(
                    status="retrying", claimed_by=None, next_attempt_at=func.now(), updated_at=func.now(),
                    reason="the sending process died mid-send; sending again (may duplicate)",
                    meta=d.c.meta.op("||")(_UNCERTAIN),
                )
            )
            recovered += result.rowcount or 0
        await conn.commit()
    if recovered:
        log.warning("recovered %d delivery(ies) left in `sending` by dead instances", recovered)
    return recovered


def recovery_worker(engine: AsyncEngine, lease: Lease, interval_s: float,
                    on_recovered: Callable[[], None] | None = None) -> Worker:
    """`recover()` at start and every `interval_s` (RECOVERY_INTERVAL_S); `on_recovered` after a pass that put
    rows back (wakes this process's dispatch workers)."""

    async def recover_pass() -> None:
        if await recover(engine, lease) and on_recovered is not None:
            on_recovered()

    return Worker.every("notify-recovery", interval_s, recover_pass)
