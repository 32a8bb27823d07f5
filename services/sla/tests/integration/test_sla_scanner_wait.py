"""The due-timer scanner on real PostgreSQL sleeps until the next timer is due: with nothing to fire it
waits for the earliest `next_fire_at` (read in its pass's transaction, by the database's clock), never longer
than `idle_s`. A copy of `sla.timers` in a schema of its own (schema_translate_map), so the suite's
other timers do not count."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select, text

from backbone.db import make_engine, make_session_factory
from sla.models import timers
from sla.scheduler import DueTimerScanner
from sla.services.policies import PolicyCatalog

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_an_idle_scanner_sleeps_until_the_next_timer_is_due(infra):
    schema = f"sla_wait_{uuid.uuid4().hex[:8]}"
    base = make_engine(infra.database_url, pool_size=2)
    async with base.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {schema}"))
        await conn.execute(text(f"CREATE TABLE {schema}.timers (LIKE sla.timers INCLUDING ALL)"))
    engine = base.execution_options(schema_translate_map={"sla": schema})
    sf = make_session_factory(engine)  # type: ignore[arg-type]
    scanner = DueTimerScanner(sf, PolicyCatalog(), batch_size=10, interval_s=0.05, idle_s=30.0, fired_by="test")
    try:
        assert await scanner.step() == 30.0  # no open timer: the fallback

        async with sf() as session, session.begin():
            now = (await session.execute(select(func.clock_timestamp()))).scalar_one()
            await session.execute(insert(timers).values(
                id="t1", ticket_id="k1", node="resource_check", state="running", ticket_kind="fault",
                business_type="internet.fault", role="noc", customer_id="c1", customer_name="C",
                customer_tier="B", account_manager_id="m1", policy_version="v1", rule_id="r1",
                started_at=now, deadline=now + timedelta(hours=1), next_fire_at=now + timedelta(seconds=3),
                state_data={}))
        async with base.connect() as conn:  # the copy holds it (the suite's sla.timers is left alone)
            assert (await conn.execute(text(f"SELECT count(*) FROM {schema}.timers"))).scalar_one() == 1
        statements: list[str] = []

        def seen(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement)

        event.listen(base.sync_engine, "before_cursor_execute", seen)
        try:
            wait = await scanner.step()
        finally:
            event.remove(base.sync_engine, "before_cursor_execute", seen)
        assert 0 < wait <= 3.0  # until that timer's warning, not the 30 s fallback
        # Nothing due yet: the pass is the one statement that reads the clock and the first next_fire_at.
        assert len(statements) == 1 and "clock_timestamp()" in statements[0], statements
    finally:
        async with base.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await base.dispose()
