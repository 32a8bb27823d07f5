"""The forward queue under a failing and a refusing EOMS, on real PostgreSQL (a schema of its own, so a
running bridge never takes these rows): a ticket's later message never overtakes an earlier one that
backs off; a 4xx-rejected message is not "sent", it is parked with its error and holds the ticket's
later messages; no transaction is open on the queue while the EOMS is called."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from backbone.db import make_engine
from eoms_bridge.adapter.client import CircuitBreaker, EomsClient
from eoms_bridge.adapter.forwarder import PARKED_UNTIL, Forwarder
from eoms_bridge.models import forward_queue, tickets

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def queue(infra: Any) -> AsyncIterator[tuple[AsyncEngine, str]]:
    schema = f"eoms_fwd_{uuid.uuid4().hex[:6]}"
    engine = make_engine(infra.database_url, pool_size=3).execution_options(schema_translate_map={"eoms": schema})
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        md = MetaData(schema="eoms")
        for t in (forward_queue, tickets):
            t.to_metadata(md)
        await conn.run_sync(md.create_all)
    try:
        yield engine, schema
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()


def _client(handler: Any) -> EomsClient:
    return EomsClient("http://eoms.test", max_attempts=1, transport=httpx.MockTransport(handler),
                      breaker=CircuitBreaker(failure_threshold=1000))


async def _enqueue(engine: AsyncEngine, *rows: tuple[str, str]) -> None:
    async with engine.begin() as conn:
        for ticket_id, message_type in rows:
            await conn.execute(forward_queue.insert().values(
                ticket_id=ticket_id, message_type=message_type, payload={"type": message_type}))


async def _rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(select(forward_queue).order_by(forward_queue.c.seq))).mappings()]


async def test_a_later_message_waits_behind_one_that_backs_off_and_no_transaction_spans_the_call(queue):
    engine, schema = queue
    calls: list[str] = []
    open_tx: list[int] = []
    fail = {"on": True}

    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(json.loads(request.content)["message_id"])
        async with engine.connect() as conn:  # is anyone holding a lock on the queue during the call?
            open_tx.append(int((await conn.execute(text(
                "SELECT count(*) FROM pg_locks WHERE relation = CAST(:rel AS regclass) AND pid <> pg_backend_pid()"),
                {"rel": f'"{schema}".forward_queue'})).scalar_one()))
        return httpx.Response(503) if fail["on"] else httpx.Response(200, json={"id": "ext-1"})

    await _enqueue(engine, ("t1", "ticket.updated"), ("t1", "ticket.cancelled"))
    fwd = Forwarder(async_sessionmaker(engine), _client(handler), retry_initial_s=60, retry_max_s=60)
    await fwd.forward_once()
    await fwd.forward_once()
    await fwd.forward_once()
    first, second = await _rows(engine)
    assert calls == [f"t1:{first['seq']}"]  # the cancel never overtook the update that backs off
    assert open_tx == [0]
    fail["on"] = False
    async with engine.begin() as conn:  # the backoff ends
        await conn.execute(forward_queue.update().values(next_attempt_at=text("now()")))
    await fwd.forward_once()
    await fwd.forward_once()
    assert calls == [f"t1:{first['seq']}", f"t1:{first['seq']}", f"t1:{second['seq']}"]
    assert all(r["sent_at"] is not None for r in await _rows(engine))


async def test_a_rejected_message_is_parked_not_sent_and_holds_its_ticket(queue):
    engine, _ = queue
    calls: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        calls.append(body["message_id"])
        return httpx.Response(400, text="unknown ticket") if body["type"] == "ticket.updated" else httpx.Response(200)

    await _enqueue(engine, ("t2", "ticket.updated"), ("t2", "ticket.cancelled"), ("t3", "ticket.cancelled"))
    fwd = Forwarder(async_sessionmaker(engine), _client(handler))
    for _ in range(3):
        await fwd.forward_once()
    rejected, held, other = await _rows(engine)
    assert rejected["sent_at"] is None and rejected["last_error"].startswith("rejected: 400")
    assert rejected["next_attempt_at"] == PARKED_UNTIL
    assert held["sent_at"] is None  # never overtakes the rejected one
    assert other["sent_at"] is not None  # other tickets flow
    assert calls == [f"t2:{rejected['seq']}", f"t3:{other['seq']}"]
    async with engine.begin() as conn:  # an operator discards the rejected message: the ticket flows on
        await conn.execute(forward_queue.update().where(forward_queue.c.seq == rejected["seq"])
                           .values(sent_at=text("now()")))
    await fwd.forward_once()
    assert (await _rows(engine))[1]["sent_at"] is not None
