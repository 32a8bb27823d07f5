"""Many rows as one statement's parameters: one array per column, or one JSON document.

Arrays: `INSERT … SELECT … FROM unnest(…) WITH ORDINALITY` (`insert_from_arrays`, `array_params`; the rows
alone: `select_from_arrays`).

One statement and one parameter per column whatever the number of rows, in their order, where an
executemany pays a round trip (or SQLAlchemy's parameter processing) per row. The insert can stand alone
or ride in another statement as a data-modifying CTE (`Select.add_cte(insert_from_arrays(...).cte(...))`).
Each column's array is the parameter `<prefix><column>` (`array_params`): a statement that carries
several of these inserts gives each its own prefix.

    stmt = insert_from_arrays(ticket_history, ("ticket_id", "event_type", "at"), prefix="history_")
    await session.execute(stmt, array_params(rows, ("ticket_id", "event_type", "at"), prefix="history_"))

JSON rows: the rows as one JSON array of objects, read by PostgreSQL's `json_to_recordset` with each column's
type (`json_recordset`, `json_rows`), a FROM element to select, insert or update from. Cheaper for the client
when a run carries many columns: asyncpg encodes an array element by element (a few Python-level checks per
value; about 22 us per row of 24 text and timestamp columns), where the whole run is one string serialised in
pydantic's core (about 5 us per such row); PostgreSQL parses the text instead of binary arrays. Values travel
as JSON: text, numbers, booleans, null, timestamps as ISO 8601 strings; a JSON(B) column's value travels as its
JSON text (a string: cast it to jsonb where it is written); long strings such as those go best as `texts`, one
text array each beside the document (PostgreSQL then reads them without unescaping). Arrays stay the form for
bytes (the outbox payload).

    rows = json_recordset(table_columns(timers, ("id", "state")), param="p_rows", name="v")
    stmt = update(timers).values(state=rows.c.state).where(timers.c.id == rows.c.id)
    await session.execute(stmt, json_rows(new_states, param="p_rows"))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Insert, Select, String, Subquery, Table, bindparam, column, func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, JSON, JSONB
from sqlalchemy.types import TypeEngine

_PG = postgresql.asyncpg.dialect()  # type: ignore[no-untyped-call]  # renders the recordset's types and names


def select_from_arrays(table: Table, columns: Sequence[str], *, prefix: str) -> Select[Any]:
    """`SELECT … FROM unnest(:<prefix><column>, …) WITH ORDINALITY ORDER BY ordinality`: the rows of
    `array_params`, in their order, each column of `table`'s type; for an insert of its own (an ON CONFLICT, a
    RETURNING, a filter) where `insert_from_arrays` is not the whole statement."""
    rows = func.unnest(*(bindparam(prefix + c, type_=ARRAY(table.c[c].type)) for c in columns)).table_valued(
        *columns, with_ordinality="ordinality").render_derived(name=f"{table.name}_rows")
    return select(*(rows.c[c] for c in columns)).order_by(rows.c.ordinality)


def insert_from_arrays(table: Table, columns: Sequence[str], *, prefix: str) -> Insert:
    """`INSERT INTO <table> (<columns>) SELECT … FROM unnest(:<prefix><column>, …) WITH ORDINALITY ORDER BY
    ordinality`: the rows of `array_params`, in their order (a serial key keeps it)."""
    return table.insert().from_select(list(columns), select_from_arrays(table, columns, prefix=prefix))


def array_params(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, prefix: str) -> dict[str, list[Any]]:
    """The parameters of `insert_from_arrays` for `rows`: per column, its values in row order."""
    return {prefix + c: [r[c] for r in rows] for c in columns}


def table_columns(table: Table, names: Sequence[str]) -> list[tuple[str, TypeEngine[Any]]]:
    """`names` of `table` with their types for `json_recordset`: a string or a JSON(B) column as text (a value too
    long for the column fails where it is written, as an insert's own value would), the others as they are."""
    return [(n, postgresql.TEXT() if isinstance(table.c[n].type, (String, JSON, JSONB)) else table.c[n].type)
            for n in names]


def json_recordset(columns: Sequence[tuple[str, TypeEngine[Any]]], *, param: str, name: str,
                   texts: Sequence[str] = ()) -> Subquery:
    """`(SELECT * FROM ROWS FROM (json_to_recordset(CAST(:<param> AS json)) AS (<column> <type>, …),
    unnest(CAST(:<param>_<text> AS text[])), …) WITH ORDINALITY AS r(<column>, …, <text>, …, ordinality)) AS <name>`:
    the rows of `json_rows` (keys not listed are ignored, a key missing is null), each column as its type, the
    `texts` (long strings, e.g. JSON already serialised: escaped inside the document they cost PostgreSQL more
    to read than an array element) zipped with them by position, and `ordinality` their position from 1."""
    quote = _PG.identifier_preparer.quote
    types = ", ".join(f"{quote(n)} {_PG.type_compiler_instance.process(t)}" for n, t in columns)
    arrays = "".join(f", unnest(CAST(:{param}_{n} AS text[]))" for n in texts)
    names = ", ".join(quote(n) for n in [*(n for n, _ in columns), *texts])
    sql = (f"SELECT * FROM ROWS FROM (json_to_recordset(CAST(:{param} AS json)) AS ({types}){arrays}) "
           f"WITH ORDINALITY AS r({names}, ordinality)")
    typed = [*(column(n, t) for n, t in columns), *(column(n, postgresql.TEXT()) for n in texts),
             column("ordinality", postgresql.BIGINT())]
    return text(sql).columns(*typed).subquery(name)


def json_rows(rows: Sequence[Mapping[str, Any]], *, param: str, texts: Sequence[str] = ()) -> dict[str, Any]:
    """The parameters of a `json_recordset`: `rows` as one JSON array (without the `texts`), in their order, and
    per text its array."""
    return {param: to_json(rows, exclude={"__all__": set(texts)} if texts else None).decode(),
            **{f"{param}_{n}": [r[n] for r in rows] for n in texts}}
