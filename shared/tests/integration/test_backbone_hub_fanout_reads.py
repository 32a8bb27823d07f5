"""`backbone.hub.fanout.fan_out` on real PostgreSQL: a consumer's run (one transaction) reads the API's
subscriptions once, whatever the number of events it fans out, and the next transaction reads them again
(a subscription registered meanwhile gets the next run's events); the registration rule still holds; an event
nobody listens to is not mapped."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, insert, select

from backbone.envelope import Envelope
from backbone.hub.fanout import REGISTRATION_SLACK, fan_out, fan_out_handlers
from backbone.hub.model import HubEvent

pytestmark = pytest.mark.asyncio(loop_scope="session")

API = "productOrderingManagement/v4"


def _event() -> HubEvent:
    return HubEvent(event_id=uuid.uuid4(), event_type="ProductOrderCreateEvent", entity_id="o1",
                    source_event_id=uuid.uuid4(), body={"eventType": "ProductOrderCreateEvent"})


async def test_a_run_reads_the_subscriptions_once_and_the_next_run_sees_a_new_one(hub_schema):
    engine, tables, sf = hub_schema.engine, hub_schema.tables, hub_schema.session_factory
    reads: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if "hub_subscription" in statement and statement.lstrip().upper().startswith("SELECT"):
            reads.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        async with sf() as session, session.begin():
            await session.execute(insert(tables.subscription).values(
                id="s1", api=API, callback="http://127.0.0.1:9/cb", secret="x"))
        now = datetime.now(UTC)
        async with sf() as session, session.begin():  # one run of three events
            added = [await fan_out(session, tables, API, [_event()], occurred_at=now) for _ in range(3)]
        assert added == [1, 1, 1]
        assert len(reads) == 1

        async with sf() as session, session.begin():
            await session.execute(insert(tables.subscription).values(
                id="s2", api=API, callback="http://127.0.0.1:9/cb2", secret="y"))
        async with sf() as session, session.begin():  # the next run: both
            assert await fan_out(session, tables, API, [_event()], occurred_at=datetime.now(UTC)) == 2
            # an event that occurred long before s2 was registered (a replay) reaches s1 alone, in the same run
            old = datetime.now(UTC) - REGISTRATION_SLACK - timedelta(minutes=1)
            async with engine.begin() as conn:
                await conn.execute(tables.subscription.update().where(tables.subscription.c.id == "s1")
                                   .values(created_at=old - timedelta(minutes=1)))
        assert len(reads) == 2
        async with sf() as session, session.begin():
            assert await fan_out(session, tables, API, [_event()], occurred_at=old) == 1
        async with sf() as session:
            total = (await session.execute(select(func.count()).select_from(tables.delivery))).scalar_one()
        assert total == 3 + 2 + 1
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def test_no_listener_no_mapping(hub_schema):
    """A fan-out handler maps an event only when a subscription would get it: with none (or only one
    registered after the event occurred) the mapper, and the reads it makes, are skipped."""
    tables, sf = hub_schema.tables, hub_schema.session_factory
    mapped: list[str] = []

    async def mapper(session: object, envelope: Envelope) -> list[HubEvent]:
        mapped.append(envelope.subject)
        return [_event()]

    handle = fan_out_handlers(tables, API, {"crm.order.submitted": mapper})["crm.order.submitted"]

    def envelope(subject: str, at: datetime) -> Envelope:
        return Envelope(type="crm.order.submitted", source="crm", subject=subject, time=at)

    async with sf() as session, session.begin():
        await handle(session, envelope("nobody", datetime.now(UTC)))
    assert mapped == []
    async with sf() as session, session.begin():
        await session.execute(insert(tables.subscription).values(
            id="s1", api=API, callback="http://127.0.0.1:9/cb", secret="x"))
    async with sf() as session, session.begin():
        await handle(session, envelope("before-it", datetime.now(UTC) - REGISTRATION_SLACK - timedelta(minutes=1)))
        await handle(session, envelope("after-it", datetime.now(UTC)))
    assert mapped == ["after-it"]
    async with sf() as session:
        assert (await session.execute(select(func.count()).select_from(tables.delivery))).scalar_one() == 1
