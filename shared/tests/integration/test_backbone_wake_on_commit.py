"""`backbone.workers.wake_on_commit` / `after_commit` on real PostgreSQL: a worker is woken by the commit
of the transaction that queued its work, never by a rollback, once per transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from backbone.db import make_engine, make_session_factory
from backbone.workers import Worker, after_commit, wake_on_commit

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_commit_wakes_the_worker_and_a_rollback_does_not(infra):
    engine = make_engine(infra.database_url, pool_size=1)
    sf = make_session_factory(engine)
    committed, rolled_back = Worker("committed"), Worker("rolled-back")
    calls: list[str] = []
    try:
        async with sf() as session:
            async with session.begin():
                await session.execute(text("SELECT 1"))
                wake_on_commit(session, committed)
                after_commit(session, "once", lambda: calls.append("a"))
                after_commit(session, "once", lambda: calls.append("b"))  # same key: replaces, runs once
                assert not committed._wake.is_set()  # not before the commit
            assert committed._wake.is_set()
            assert calls == ["b"]

            with pytest.raises(RuntimeError):
                async with session.begin():
                    await session.execute(text("SELECT 1"))
                    wake_on_commit(session, rolled_back)
                    raise RuntimeError("rolled back")
            assert not rolled_back._wake.is_set()
            async with session.begin():  # a later commit of the same session does not run it either
                await session.execute(text("SELECT 1"))
            assert not rolled_back._wake.is_set()
    finally:
        await engine.dispose()
