"""The partial indexes of the order path (migration d9b3e6a2c8f4, issue 16) are the ones their lookups use, with the
plan PostgreSQL caches for a prepared statement (a generic plan: parameters unknown): "tickets I took part in" on
`ix_eoms_ticket_history_actor` (a person's rows only), a reporter's network tickets on `ix_eoms_tickets_network`.
An order's tickets write no entry into either; a person's history rows do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Select, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from backbone.ids import new_id
from eoms_bridge.api.assignments import involved_in
from eoms_bridge.api.tmf import NETWORK_TICKETS
from eoms_bridge.models import AUTOMATIC_ACTORS, ticket_history, tickets
from eoms_bridge.services.assignment import DISPATCH
from eoms_bridge.services.tickets import CRM

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def engine(infra: Any) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(infra.database_url, pool_size=1)
    yield engine
    await engine.dispose()


async def generic_plan(engine: AsyncEngine, query: Select[Any], *args: str) -> str:
    """EXPLAIN of `query` prepared and planned for any parameter (`plan_cache_mode = force_generic_plan`), seq scans
    priced out so that a usable index is used on the test's small tables."""
    sql = str(query.compile(dialect=postgresql.asyncpg.dialect()))  # type: ignore[attr-defined]
    name = new_id("p")
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        async with raw.transaction():
            await raw.execute("SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_seqscan = off")
            await raw.execute(f"PREPARE {name} AS {sql}")
            try:
                values = ", ".join(f"'{a}'" for a in args)
                return "\n".join(r[0] for r in await raw.fetch(f"EXPLAIN EXECUTE {name}({values})"))
            finally:
                await raw.execute(f"DEALLOCATE {name}")


async def test_a_persons_involvement_is_read_from_the_partial_actor_index(engine: AsyncEngine) -> None:
    plan = await generic_plan(engine, select(tickets.c.id).where(tickets.c.id.in_(involved_in("ns_zhao"))), "ns_zhao")
    assert "ix_eoms_ticket_history_actor" in plan, plan


async def test_an_automatic_actors_involvement_is_still_all_its_rows(engine: AsyncEngine) -> None:
    # The automatic actors' rows are not in the partial index: their lookup does not name its predicate.
    assert CRM.id in AUTOMATIC_ACTORS and DISPATCH.id in AUTOMATIC_ACTORS
    assert "NOT IN" not in str(involved_in(CRM.id))
    assert "NOT IN" in str(involved_in("ns_zhao"))
    tid = new_id("tkt")
    async with engine.begin() as conn:
        for actor in (CRM.id, DISPATCH.id, "ns_zhao"):
            await conn.execute(ticket_history.insert().values(ticket_id=tid, event_type="eoms.ticket.node_assigned",
                                                              actor=actor, at=datetime.now(UTC)))
    async with engine.connect() as conn:
        for actor in (CRM.id, DISPATCH.id, "ns_zhao"):
            assert tid in set((await conn.execute(involved_in(actor))).scalars()), actor


async def test_a_reporters_network_tickets_are_read_from_the_partial_network_index(engine: AsyncEngine) -> None:
    query = (select(tickets.c.id).where(NETWORK_TICKETS, tickets.c.origin_item_id == "nms_bench")
             .order_by(tickets.c.id.desc()).limit(20))
    plan = await generic_plan(engine, query, "nms_bench", "20")
    assert "ix_eoms_tickets_network" in plan, plan
