"""Idempotency-Key on real PostgreSQL: the claim (`INSERT … ON CONFLICT DO NOTHING`) and the reply.

- a new key is claimed and its reply stored in the transaction of the effect; a later request with
  the same key and body gets that reply, with another body a 422 naming the header;
- concurrent first requests with one key: exactly one does the work, the others wait and replay it;
- a request that fails rolls back, key included: the next one runs again;
- a transaction that claimed a key cannot commit without storing the reply;
- `commit_once`: the key, its reply and the effect in one statement (`autocommit`), the same guarantees.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, bindparam, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from backbone.db import autocommit, idempotency_table, make_engine, make_session_factory
from backbone.idempotency import Idempotency, UnfinishedIdempotency
from backbone.problems import Problem
from backbone.workers import after_commit

pytestmark = pytest.mark.asyncio(loop_scope="session")

SCHEMA = "bb_idempotency"


@asynccontextmanager
async def scratch_schema(infra, md: MetaData) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """`md`'s schema made afresh with its tables; sessions on an engine of its own; dropped after."""
    engine = make_engine(infra.database_url, pool_size=8)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{md.schema}" CASCADE'))
            await conn.execute(text(f'CREATE SCHEMA "{md.schema}"'))
            await conn.run_sync(md.create_all)
        yield make_session_factory(engine)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{md.schema}" CASCADE'))
        await engine.dispose()


async def test_claim_reply_replay_and_concurrent_first_use(infra):
    md = MetaData(schema=SCHEMA)
    keys = idempotency_table(md)
    async with scratch_schema(infra, md) as sessions:
        work: list[str] = []

        async def request(key: str, fingerprint: str, *, fail: bool = False, pause: float = 0.0) -> tuple[int, dict]:
            idem = Idempotency(table=keys, key=key, principal="am_1", fingerprint=fingerprint)
            async with sessions() as session, session.begin():
                if (replay := await idem.begin(session)) is not None:
                    assert replay.headers["idempotent-replayed"] == "true"
                    return replay.status_code, json.loads(bytes(replay.body))
                work.append(key)
                async with session.begin_nested():  # a savepoint released before the reply is no commit
                    await session.execute(select(1))
                await asyncio.sleep(pause)  # the others arrive while this one holds the uncommitted claim
                if fail:
                    raise RuntimeError("the effect failed")
                reply = await idem.finish(session, 201, {"n": len(work)}, {"Location": f"/x/{len(work)}"})
                return reply.status_code, json.loads(bytes(reply.body))

        assert await request("k1", "h1") == (201, {"n": 1})
        assert await request("k1", "h1") == (201, {"n": 1}) and work == ["k1"]
        with pytest.raises(Problem) as refused:
            await request("k1", "h2")
        assert refused.value.status == 422 and refused.value.errors[0]["field"] == "Idempotency-Key"

        replies = await asyncio.gather(*[request("k2", "h1", pause=0.3 if i == 0 else 0.0) for i in range(6)])
        assert work.count("k2") == 1, "concurrent first requests with one key: the work is done once"
        assert len({json.dumps(r) for r in replies}) == 1

        with pytest.raises(RuntimeError):
            await request("k3", "h1", fail=True)
        assert await request("k3", "h1") == (201, {"n": len(work)}) and work.count("k3") == 2

        idem = Idempotency(table=keys, key="k4", principal="am_1", fingerprint="h1")
        with pytest.raises(UnfinishedIdempotency):
            async with sessions() as session, session.begin():
                assert await idem.begin(session) is None
        async with sessions() as session:
            stored = (await session.execute(select(func.count()).select_from(keys).where(keys.c.key == "k4"))).scalar()
            assert stored == 0, "nothing of a claim without its reply is committed"
            rows = (await session.execute(select(keys.c.key, keys.c.status_code, keys.c.response))).all()
            assert {r.key: r.status_code for r in rows} == {"k1": 201, "k2": 201, "k3": 201}
            assert all(r.response["headers"]["Location"].startswith("/x/") for r in rows)


async def test_commit_once_claims_the_key_in_the_effects_statement(infra):
    """`commit_once` in `autocommit`: the effect, the key and its reply in one statement. A retry (or a
    concurrent first use) gets the first reply and the effect is not applied again; another body a 422; a
    failing effect stores no key; `replay` answers a retry that the request's reads refuse; the relay-style
    after-commit callback runs once the block ends."""
    md = MetaData(schema=SCHEMA + "_once")
    keys = idempotency_table(md)
    things = Table("things", md, Column("id", String, primary_key=True), Column("n", Integer, nullable=False))
    values = select(bindparam("id", type_=String), bindparam("n", type_=Integer))
    effect = insert(things).from_select(["id", "n"], values.select_from(func.pg_sleep(bindparam("pause", type_=Float))))
    async with scratch_schema(infra, md) as sessions:
        woken: list[str] = []

        async def request(key: str | None, fingerprint: str, thing: str, *, pause: float = 0.0) -> tuple[int, dict]:
            idem = Idempotency(table=keys, key=key, principal="am_1", fingerprint=fingerprint)
            async with sessions() as session, autocommit(session):
                after_commit(session, "wake", lambda: woken.append(thing))
                reply = await idem.commit_once(session, 201, {"thing": thing}, {"Location": f"/t/{thing}"},
                                               effect=(effect, {"id": thing, "n": 1, "pause": pause}))
                return reply.status_code, json.loads(bytes(reply.body))

        async def count() -> int:
            async with sessions() as session:
                return (await session.execute(select(func.count()).select_from(things))).scalar_one()

        assert await request("k1", "h1", "a") == (201, {"thing": "a"}) and woken == ["a"]
        assert await request("k1", "h1", "b") == (201, {"thing": "a"}), "a retry: the first reply"
        assert await count() == 1, "a retry's effect is not applied"
        with pytest.raises(Problem) as refused:
            await request("k1", "h2", "c")
        assert refused.value.status == 422 and refused.value.errors[0]["field"] == "Idempotency-Key"

        replies = await asyncio.gather(*[request("k2", "h1", f"c{i}", pause=0.3 if i == 0 else 0.0) for i in range(6)])
        assert len({json.dumps(r) for r in replies}) == 1 and await count() == 2, "concurrent first uses: one effect"

        with pytest.raises(IntegrityError):  # the effect's own constraint: nothing stored, the key free
            await request("k3", "h1", "a")
        assert await request("k3", "h1", "d") == (201, {"thing": "d"}) and await count() == 3

        assert await request(None, "", "e") == (201, {"thing": "e"}) and await count() == 4  # no key: no claim
        async with sessions() as session, autocommit(session):
            assert await Idempotency(table=keys, key="k3", principal="am_1", fingerprint="h1").replay(session) \
                is not None
            assert await Idempotency(table=keys, key="k9", principal="am_1", fingerprint="h1").replay(session) is None
            stored = (await session.execute(select(keys.c.key, keys.c.status_code, keys.c.response))).all()
        assert {r.key: (r.status_code, r.response["body"]) for r in stored} == {
            "k1": (201, {"thing": "a"}), "k2": (201, replies[0][1]), "k3": (201, {"thing": "d"})}


async def test_replay_in_autocommit_reads_on_the_blocks_connection(infra):
    """A refused request's `replay` (and a retry's, after the claim failed) in `autocommit` reads on the block's
    connection: an engine of one connection answers it (a second one from the pool would wait for the first)."""
    md = MetaData(schema=SCHEMA + "_one")
    keys = idempotency_table(md)
    async with scratch_schema(infra, md) as sessions:
        async with sessions() as session, autocommit(session):
            await Idempotency(table=keys, key="k1", principal="am_1", fingerprint="h1").commit_once(
                session, 201, {"thing": "a"}, effect=(select(func.now()), {}))
        one = create_async_engine(infra.database_url, pool_size=1, max_overflow=0, pool_timeout=2)
        try:
            async with make_session_factory(one)() as session, autocommit(session):
                replay = await Idempotency(table=keys, key="k1", principal="am_1", fingerprint="h1").replay(session)
                assert replay is not None and json.loads(bytes(replay.body)) == {"thing": "a"}
                assert replay.headers["Idempotent-Replayed"] == "true"
                assert await Idempotency(table=keys, key="k2", principal="am_1", fingerprint="h1").replay(session) \
                    is None
                with pytest.raises(Problem):  # another request's key: 422
                    await Idempotency(table=keys, key="k1", principal="am_1", fingerprint="h2").replay(session)
                # a retry whose claim fails: the stored reply, read on the same connection
                again = await Idempotency(table=keys, key="k1", principal="am_1", fingerprint="h1").commit_once(
                    session, 201, {"thing": "b"}, effect=(select(func.now()), {}))
                assert json.loads(bytes(again.body)) == {"thing": "a"}
        finally:
            await one.dispose()
