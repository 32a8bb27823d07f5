"""The liveness lease on real PostgreSQL: the end of the lock connection is seen at once, not at the next
ping. The holder here pings once an hour, so only the connection's termination listener can notice
that its backend was terminated; the tests' timeouts bound the waits, they measure nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from backbone.db import make_engine
from notify.dispatch.lease import LOCK_CLASS, Lease, LeaseHolder, lock_key
from tests.support.kafka_tools import eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")

_HOLDER = text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
               "AND classid = CAST(:c AS oid) AND objid = CAST(:k AS oid)")


async def test_a_terminated_lock_connection_stops_claims_at_once_and_the_lock_is_taken_again(infra: Any) -> None:
    engine = make_engine(infra.database_url)
    lease = Lease()
    holder = LeaseHolder(engine, lease, keepalive_s=3600)
    task = asyncio.create_task(holder.run())
    # pg_locks shows an advisory lock's two int4 keys as unsigned oids.
    params = {"c": LOCK_CLASS, "k": lock_key(lease.instance) % 2**32}

    async def holder_pid() -> int | None:
        async with engine.connect() as conn:
            return (await conn.execute(_HOLDER, params)).scalar()

    try:
        await asyncio.wait_for(lease.alive.wait(), 30)
        first = await eventually(holder_pid, what="the liveness lock in pg_locks", timeout_s=30)
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            await conn.commit()

        async def lost() -> bool:
            return not lease.alive.is_set()

        await eventually(lost, what="the lease dropped after its connection ended", timeout_s=30, interval_s=0.05)
        await asyncio.wait_for(lease.alive.wait(), 30)  # re-taken on a new connection
        second = await eventually(holder_pid, what="the lock held again", timeout_s=30)
        assert second != first
    finally:
        holder.stop()
        await asyncio.wait_for(task, 30)
        await engine.dispose()
    async with engine.connect() as conn:  # released at stop
        assert (await conn.execute(_HOLDER, params)).scalar() is None
    await engine.dispose()
