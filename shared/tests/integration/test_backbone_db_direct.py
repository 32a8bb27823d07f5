"""`backbone.db.run_direct` on real PostgreSQL: a Core statement run by the asyncpg driver itself in
`autocommit`, with SQLAlchemy's parameter processing (JSONB, arrays, bound literals), rows as named tuples,
SQLAlchemy's errors, and refused in a transaction (where SQLAlchemy would begin one first)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, func, insert, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.exc import IntegrityError

from backbone.db import autocommit, make_engine, make_session_factory, run_direct

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
