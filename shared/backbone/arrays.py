"""Rows sent as one array parameter per column: `INSERT … SELECT … FROM unnest(…) WITH ORDINALITY`.

One statement and one parameter per column whatever the number of rows, in their order, where an
executemany pays a round trip (or SQLAlchemy's parameter processing) per row. The insert can stand alone
or ride in another statement as a data-modifying CTE (`Select.add_cte(insert_from_arrays(...).cte(...))`).
Each column's array is the parameter `<prefix><column>` (`array_params`): a statement that carries
several of these inserts gives each its own prefix.

    stmt = insert_from_arrays(ticket_history, ("ticket_id", "event_type", "at"), prefix="history_")
    await session.execute(stmt, array_params(rows, ("ticket_id", "event_type", "at"), prefix="history_"))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Insert, Table, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY


def insert_from_arrays(table: Table, columns: Sequence[str], *, prefix: str) -> Insert:
    """`INSERT INTO <table> (<columns>) SELECT … FROM unnest(:<prefix><column>, …) WITH ORDINALITY ORDER BY
    ordinality`: the rows of `array_params`, in their order (a serial key keeps it)."""
    rows = func.unnest(*(bindparam(prefix + c, type_=ARRAY(table.c[c].type)) for c in columns)).table_valued(
        *columns, with_ordinality="ordinality").render_derived(name=f"{table.name}_rows")
    return table.insert().from_select(list(columns), select(*(rows.c[c] for c in columns)).order_by(rows.c.ordinality))


def array_params(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, prefix: str) -> dict[str, list[Any]]:
    """The parameters of `insert_from_arrays` for `rows`: per column, its values in row order."""
    return {prefix + c: [r[c] for r in rows] for c in columns}
