"""Reports as JSON or CSV, one way for every service (SLA reports, statistics).

A report route answers its response model as JSON, or the same rows as CSV when asked with
`format=csv` or `Accept: text/csv` (`wants_csv`); `csv_response` writes a header line and one line
per row, as an attachment named after the report. `CSV_RESPONSE` documents the CSV answer in the
route's OpenAPI `responses`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import Request, Response

CSV_RESPONSE: dict[int | str, dict[str, Any]] = {200: {
    "content": {"text/csv": {"schema": {"type": "string"}}},
    "description": "JSON, or CSV (a header line, one line per row) with `format=csv` or `Accept: text/csv`"}}


def wants_csv(request: Request, fmt: str | None) -> bool:
    """`format=` decides when given; else an `Accept` naming text/csv asks for CSV."""
    if fmt is not None:
        return fmt == "csv"
    return "text/csv" in request.headers.get("accept", "")


def csv_response(name: str, rows: Iterable[Mapping[str, Any]], columns: list[str]) -> Response:
    """`rows` as CSV with the `columns` (keys of a row not among them are left out), `<name>.csv`."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
