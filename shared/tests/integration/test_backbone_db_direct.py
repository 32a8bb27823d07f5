"""`backbone.db.run_direct` on real PostgreSQL: a Core statement run by the asyncpg driver itself in
`autocommit`, with SQLAlchemy's parameter processing (JSONB, arrays, bound literals), rows as named tuples,
SQLAlchemy's errors, and refused in a transaction (where SQLAlchemy would begin one first)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, func, insert, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.exc import DBAPIError, IntegrityError, InvalidRequestError

from backbone.db import autocommit, make_engine, make_session_factory, run_direct
from backbone.workers import after_commit

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_run_direct_in_autocommit(infra):
    md = MetaData(schema=f"bb_direct_{uuid.uuid4().hex[:8]}")
    things = Table("things", md, Column("id", String, primary_key=True), Column("n", Integer, nullable=False),
                   Column("doc", JSONB, nullable=False), Column("refs", ARRAY(UUID(as_uuid=True)), nullable=False))
    engine = make_engine(infra.database_url, pool_size=2)
    sessions = make_session_factory(engine)
    add = insert(things).values(id=bindparam("id"), n=bindparam("n"), doc=bindparam("doc", type_=JSONB),
                                refs=bindparam("refs", type_=ARRAY(UUID(as_uuid=True))))
    read = select(things.c.id, things.c.doc, things.c.refs, (things.c.n + literal(10)).label("n_plus")).where(
        things.c.id == bindparam("id"))
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{md.schema}"'))
            await conn.run_sync(md.create_all)
        ref = uuid.uuid4()
        async with sessions() as session, autocommit(session):
            assert await run_direct(session, add, {"id": "a", "n": 1, "doc": {"k": ["v", 1]}, "refs": [ref]}) == []
            (row,) = await run_direct(session, read, {"id": "a"})
            assert (row.id, row.doc, row.refs, row.n_plus) == ("a", {"k": ["v", 1]}, [ref], 11)
            assert await run_direct(session, read, {"id": "nobody"}) == []
            with pytest.raises(IntegrityError):  # SQLAlchemy's error, as session.execute raises it
                await run_direct(session, add, {"id": "a", "n": 2, "doc": {}, "refs": []})
            # the session goes on after it (each statement its own transaction): the first row stays
            count = await run_direct(session, select(func.count().label("n")).select_from(things), {})
            assert count[0].n == 1
        async with sessions() as session, session.begin():
            with pytest.raises(RuntimeError):
                await run_direct(session, read, {"id": "a"})
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{md.schema}" CASCADE'))
        await engine.dispose()


async def test_autocommit_block_on_a_pooled_connection(infra):
    """`autocommit` runs `run_direct` on a connection of its own from the pool (in the driver's autocommit, given
    back at the end): the after-commit callbacks run when the block ends, are dropped on an error; a statement the
    session executes in the block is committed at its end (rolled back on an error); the connection goes back to
    the pool out of autocommit."""
    md = MetaData(schema=f"bb_direct_{uuid.uuid4().hex[:8]}")
    things = Table("things", md, Column("id", String, primary_key=True), Column("n", Integer, nullable=False))
    engine = make_engine(infra.database_url, pool_size=1)
    sessions = make_session_factory(engine)
    add = insert(things).values(id=bindparam("id"), n=bindparam("n"))
    count = select(func.count().label("n")).select_from(things)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{md.schema}"'))
            await conn.run_sync(md.create_all)
        ran: list[str] = []
        async with sessions() as session:
            async with autocommit(session):
                after_commit(session, "k", lambda: ran.append("committed"))
                await run_direct(session, add, {"id": "a", "n": 1})
                assert ran == []
            assert ran == ["committed"] and not session.in_transaction()
        # an error: the callbacks dropped, the statement before it stays (its own transaction)
        async with sessions() as session:
            with pytest.raises(IntegrityError):
                async with autocommit(session):
                    after_commit(session, "k", lambda: ran.append("again"))
                    await run_direct(session, add, {"id": "b", "n": 2})
                    await run_direct(session, add, {"id": "a", "n": 3})
            async with autocommit(session):
                pass
            assert ran == ["committed"]
            # the session's own statement in the block: committed at its end, the callbacks after it
            async with autocommit(session):
                after_commit(session, "k", lambda: ran.append("with the session's"))
                await session.execute(add, {"id": "c", "n": 4})
                assert (await run_direct(session, count, {}))[0].n == 2  # not committed yet: not seen
            assert ran == ["committed", "with the session's"] and not session.in_transaction()
            # ... rolled back on an error
            with pytest.raises(ValueError):
                async with autocommit(session):
                    await session.execute(add, {"id": "d", "n": 5})
                    raise ValueError("no")
            assert not session.in_transaction()
        async with engine.connect() as conn:
            assert (await conn.execute(select(things.c.id).order_by(things.c.id))).scalars().all() == ["a", "b", "c"]
            # the pool's connection (one) is back out of the driver's autocommit
            adapted = (await conn.get_raw_connection()).dbapi_connection
            assert not adapted.autocommit
        # a session in a transaction already: its own connection, in autocommit (as before)
        async with sessions() as session:
            await session.execute(count)
            with pytest.raises(InvalidRequestError):  # SQLAlchemy refuses a second begin
                async with autocommit(session):
                    pass
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{md.schema}" CASCADE'))
        await engine.dispose()


async def test_run_direct_on_a_dropped_connection(infra):
    """The block's connection dropped by the server: SQLAlchemy's error saying it was invalidated, the pool's
    connection discarded (the next block gets a new one)."""
    engine = make_engine(infra.database_url, pool_size=1)
    sessions = make_session_factory(engine)
    pid = select(func.pg_backend_pid().label("pid"))
    try:
        async with sessions() as session:
            with pytest.raises(DBAPIError) as caught:
                async with autocommit(session):
                    (row,) = await run_direct(session, pid, {})
                    async with engine.connect() as other:
                        await other.execute(select(func.pg_terminate_backend(row.pid)))
                    await run_direct(session, pid, {})
            assert caught.value.connection_invalidated
            async with autocommit(session):
                (again,) = await run_direct(session, pid, {})
            assert again.pid != row.pid
    finally:
        await engine.dispose()
