"""Retention on real PostgreSQL: the purge removes what nothing needs and keeps what dedupe needs.

- sent outbox rows past the window go; unsent rows stay however old (the relay still owes them);
- inbox rows past the window go; recent ones stay, so a redelivery of a recent event is still
  recognised (`claim` says "seen") and has no second effect;
- idempotency keys past the window go; recent ones stay (a client retry still replays).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import MetaData, func, select, text

from backbone.db import idempotency_table, inbox_table, make_engine, make_session_factory, outbox_table
from backbone.envelope import Envelope
from backbone.events import OrderCancelled
from backbone.inbox import claim
from backbone.retention import RetentionWindows, purge, rules_for

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _event(n: int) -> Envelope:
    payload = OrderCancelled(order_id=f"ord_{n}", customer_id="c1", reason="r", cancelled_at=datetime.now(UTC))
    return Envelope.wrap(payload, source="test", subject=f"ord_{n}")


async def test_purge_keeps_what_dedupe_and_the_relay_still_need(infra):
    schema = "bb_retention"
    md = MetaData(schema=schema)
    outbox, inbox, keys = outbox_table(md), inbox_table(md), idempotency_table(md)
    engine = make_engine(infra.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            await conn.run_sync(md.create_all)
        now = datetime.now(UTC)
        old, recent = now - timedelta(days=30), now - timedelta(minutes=5)
        events = [_event(n) for n in range(6)]
        async with engine.begin() as conn:
            rows = [
                # (event, sent_at): sent long ago / sent just now / never sent, though old
                (events[0], old), (events[1], recent), (events[2], None),
            ]
            await conn.execute(outbox.insert(), [
                {"event_id": e.id, "topic": "t", "key": e.subject, "event_type": e.type, "payload": b"{}",
                 "created_at": old, "sent_at": sent} for e, sent in rows])
            await conn.execute(inbox.insert(), [
                {"event_id": events[3].id, "consumer": "g", "event_type": "x", "received_at": old},
                {"event_id": events[4].id, "consumer": "g", "event_type": "x", "received_at": recent},
            ])
            await conn.execute(keys.insert(), [
                {"key": "k-old", "principal": "p", "request_hash": "h", "status_code": 201, "response": {},
                 "created_at": old},
                {"key": "k-new", "principal": "p", "request_hash": "h", "status_code": 201, "response": {},
                 "created_at": recent},
            ])

        windows = RetentionWindows(outbox=timedelta(hours=24), inbox=timedelta(days=8),
                                   idempotency=timedelta(hours=24))
        purged = await purge(engine, rules_for(md, windows), batch_size=1)  # batches of one: the loop is exercised
        assert purged == {"outbox": 1, "inbox": 1, "idempotency_keys": 1}

        async with engine.connect() as conn:
            left = set((await conn.execute(select(outbox.c.event_id))).scalars())
            assert left == {events[1].id, events[2].id}, "unsent rows are never purged; recent sent rows stay"
            assert set((await conn.execute(select(keys.c.key))).scalars()) == {"k-new"}
            assert (await conn.execute(select(func.count()).select_from(inbox))).scalar() == 1

        sf = make_session_factory(engine)
        async with sf() as session, session.begin():
            assert not await claim(session, inbox, events[4], "g"), "a recent event is still recognised as seen"
        async with sf() as session, session.begin():
            assert await claim(session, inbox, _event(99), "g")

        again = await purge(engine, rules_for(md, windows))
        assert again == {"outbox": 0, "inbox": 0, "idempotency_keys": 0}
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


async def test_windows_default_to_outliving_the_topics_retention():
    assert RetentionWindows().inbox > timedelta(days=7)
