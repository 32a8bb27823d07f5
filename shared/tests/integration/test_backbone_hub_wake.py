"""The hub's delivery worker on real PostgreSQL, when there is nothing to send: it sleeps until the earliest
pending row is due (a retry), never longer than `hub_idle_poll_s`, never shorter than `hub_poll_s`, and a
commit that queues rows wakes it (`wake_after_commit`); a rollback does not."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, text

from backbone.hub.delivery import HubDeliveryWorker, wake_after_commit
from backbone.hub.settings import HubSettings

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_an_idle_worker_sleeps_until_the_next_retry_and_a_commit_wakes_it(hub_schema):
    tables, sf = hub_schema.tables, hub_schema.session_factory
    worker = HubDeliveryWorker(sf, tables, HubSettings(hub_poll_s=0.05, hub_idle_poll_s=30.0))
    await worker.setup()
    try:
        assert await worker.step() == 30.0  # nothing queued at all: the fallback

        async with sf() as session, session.begin():
            await session.execute(insert(tables.subscription).values(
                id="s1", api="productOrderingManagement/v4", callback="http://127.0.0.1:9/cb", secret="x"))
            await session.execute(insert(tables.delivery).values(
                subscription_id="s1", event_id=uuid.uuid4(), event_type="ProductOrderCreateEvent", entity_id="o1",
                source_event_id=uuid.uuid4(), body="{}", attempts=1,
                next_attempt_at=datetime.now(UTC) + timedelta(seconds=3)))  # a retry, 3 s from now
        wait = await worker.step()
        assert 0.05 <= wait <= 3.0  # until that retry is due, not the 30 s fallback

        worker._wake.clear()
        with pytest.raises(RuntimeError):
            async with sf() as session, session.begin():
                wake_after_commit(session, tables)
                raise RuntimeError("rolled back")
        assert not worker._wake.is_set()
        async with sf() as session, session.begin():
            await session.execute(text("SELECT 1"))
            wake_after_commit(session, tables)
            assert not worker._wake.is_set()  # not before the commit
        assert worker._wake.is_set()
    finally:
        await worker.teardown()
