"""`backbone.outbox.rows_insert` / `rows_params` on real PostgreSQL: the outbox rows written inside a
caller's own statement (a data-modifying CTE) are the rows `emit` writes (same columns, same payload
bytes, `seq` in the events' order), the relay is woken by the commit, and a rollback writes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import literal, select, text

from backbone import outbox as outbox_module
from backbone.db import make_engine, make_session_factory, outbox_table
from backbone.events import OrderCancelled, OrderStatusChanged
from backbone.outbox import emit, envelope_for, rows_insert, rows_params, wake_channel

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_rows_in_the_callers_statement_are_the_rows_emit_writes(infra, monkeypatch):
    schema = f"bb_rows_{uuid.uuid4().hex[:8]}"
    table = outbox_table(sa.MetaData(schema=schema))
    engine = make_engine(infra.database_url, pool_size=1)
    woken: list[str] = []
    monkeypatch.setattr(outbox_module, "wake_relays", woken.append)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            await conn.run_sync(table.metadata.create_all)
        sf = make_session_factory(engine, outbox=table, source="crm")
        at = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
        payloads = [
            OrderCancelled(order_id="ord_1", customer_id="cus_1", reason="客户撤单 — no longer needed",
                           cancelled_at=at),
            OrderStatusChanged(order_id="ord_1", customer_id="cus_1", from_status="submitted",
                               to_status="cancelled", reason="客户撤单", changed_at=at),
        ]
        # The caller's statement: here a SELECT with the insert as an unreferenced CTE (as crm's new order).
        stmt = select(literal(1).label("one")).add_cte(rows_insert(table).cte("new_events"))
        async with sf() as session:
            async with session.begin():
                envelopes = [envelope_for(session, p, subject="ord_1", correlation_id="c-1") for p in payloads]
                assert (await session.execute(stmt, rows_params(session, envelopes))).scalar_one() == 1
                assert woken == []  # not before the commit
            assert woken == [wake_channel(table)]
            async with session.begin():
                emitted = await emit(session, *payloads, subject="ord_1", correlation_id="c-1")
            with pytest.raises(RuntimeError):
                async with session.begin():
                    rolled_back = [envelope_for(session, p, subject="ord_2") for p in payloads]
                    await session.execute(stmt, rows_params(session, rolled_back))
                    raise RuntimeError("rolled back")
            async with session.begin():  # no events: nothing written, nobody woken
                await session.execute(stmt, rows_params(session, []))
            assert woken == [wake_channel(table)] * 2
            rows = (await session.execute(select(table).order_by(table.c.seq))).all()
        assert len(rows) == 4
        ours, theirs = rows[:2], rows[2:]
        assert [r.event_id for r in ours] == [e.id for e in envelopes]
        assert [r.payload for r in ours] == [e.to_bytes() for e in envelopes]  # byte for byte
        for mine, emitted_row, envelope, other in zip(ours, theirs, envelopes, emitted, strict=True):
            assert (mine.topic, mine.key, mine.event_type) == (
                emitted_row.topic, emitted_row.key, emitted_row.event_type)
            assert mine.sent_at is None and mine.created_at is not None
            # the same envelope but for its id and time: what emit would have written
            same = other.model_copy(update={"id": envelope.id, "time": envelope.time})
            assert mine.payload == same.to_bytes()
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()
