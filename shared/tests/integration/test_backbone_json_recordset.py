"""`backbone.arrays.json_recordset` / `json_rows` on real PostgreSQL: the rows of one JSON parameter arrive as the
table's types (text, unicode, timestamps to the microsecond in any offset, a uuid, numbers, a boolean, null, a JSONB
column's value sent as its text in an array beside them), in their order (`ordinality`), keys not listed ignored and
missing ones null; an
insert from them writes exactly the values a plain insert would; an engine's `schema_translate_map` applies (the
recordset names no table)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from pydantic_core import from_json, to_json
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import JSONB, UUID

from backbone.arrays import json_recordset, json_rows, table_columns
from backbone.db import make_engine

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _table(schema: str) -> sa.Table:
    return sa.Table(
        "things", sa.MetaData(schema=schema),
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ref", UUID(as_uuid=True), nullable=True),
        sa.Column("n", sa.Integer, nullable=True),
        sa.Column("x", sa.Float, nullable=True),
        sa.Column("ok", sa.Boolean, nullable=True),
        sa.Column("data", JSONB, nullable=True),
    )


COLUMNS = ("name", "at", "ref", "n", "x", "ok", "data")


async def test_rows_of_one_json_parameter_arrive_typed_and_in_order(infra):
    schema = f"bb_json_{uuid.uuid4().hex[:8]}"
    table = _table("sla")  # rendered as schema "sla", translated to the scratch schema by the engine
    base = make_engine(infra.database_url, pool_size=1)
    engine = base.execution_options(schema_translate_map={"sla": schema})
    at = datetime(2026, 12, 2, 10, 0, 0, 123456, tzinfo=UTC)
    rows = [
        {"name": "客户撤单 \"quoted\" \\ back", "at": at, "ref": uuid.UUID(int=7), "n": 3, "x": 0.1 + 0.2, "ok": True,
         "data": to_json({"k": [1, "二"], "at": at}).decode(), "ignored": "not a column"},
        {"name": "plain", "at": at.astimezone(timezone(timedelta(hours=8))).replace(microsecond=0), "ref": None,
         "n": None, "x": None, "ok": False, "data": None},
        {"name": "missing keys"},
    ]
    # `data` (a JSONB column's text) as a text array beside the document, the rest inside it.
    v = json_recordset(table_columns(table, COLUMNS[:-1]), param="p_rows", name="v", texts=("data",))
    values = {c: sa.cast(v.c[c], JSONB) if c == "data" else v.c[c] for c in COLUMNS}
    stmt = table.insert().from_select(COLUMNS, select(*(values[c] for c in COLUMNS)).order_by(v.c.ordinality))
    try:
        async with base.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            await conn.run_sync(_table(schema).metadata.create_all)
        async with engine.begin() as conn:
            params = json_rows([{"data": None, **r} for r in rows], param="p_rows", texts=("data",))
            assert "data" not in params["p_rows"] and len(params["p_rows_data"]) == 3
            read = (await conn.execute(select(v).order_by(v.c.ordinality), params)).all()
            assert [r.ordinality for r in read] == [1, 2, 3]
            await conn.execute(stmt, params)
            reference = [{c: from_json(r[c]) if c == "data" and r.get(c) else r.get(c) for c in COLUMNS} for r in rows]
            await conn.execute(table.insert(), reference)  # the plain insert of the same values
            got = (await conn.execute(select(table).order_by(table.c.seq))).all()
        assert [r.name for r in got] == [r["name"] for r in rows] * 2
        ours, plain = got[:3], got[3:]
        for mine, ref in zip(ours, plain, strict=True):
            assert mine[1:] == ref[1:]
        assert ours[0].at == at and ours[0].ref == uuid.UUID(int=7) and ours[0].x == 0.1 + 0.2
        assert ours[0].data == {"k": [1, "二"], "at": "2026-12-02T10:00:00.123456Z"}
        assert ours[1].at == at.replace(microsecond=0) and ours[1].ok is False and ours[1].data is None
        assert ours[2].at is None and ours[2].ok is None
        async with base.connect() as conn:  # nothing went to the untranslated schema's name
            assert (await conn.execute(text("SELECT to_regclass('sla.things')"))).scalar_one() is None
    finally:
        async with base.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await base.dispose()
