"""/api/v1/reports: SLA compliance and node times for ops and KPI, as JSON or CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.problems import field_error
from sla.api.deps import ReaderDep, SessionDep
from sla.services import reports

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

DEFAULT_PERIOD = timedelta(days=30)


def _period(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end = end or datetime.now(UTC)
    start = start or end - DEFAULT_PERIOD
    if start.tzinfo is None or end.tzinfo is None:
        raise field_error("from" if start.tzinfo is None else "to", "give a time zone (e.g. Z or +08:00)")
    if start >= end:
        raise field_error("from", "must be before 'to'")
    return start, end


def _render(name: str, rows: list[dict[str, Any]], meta: dict[str, Any], fmt: str) -> Response:
    if fmt == "json":
        return JSONResponse({**meta, "rows": rows})
    buf = io.StringIO()
    columns = list(rows[0]) if rows else ["group"]
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


async def _report(
    query: Any, name: str, session: AsyncSession, group_by: reports.GroupBy,
    start: datetime | None, end: datetime | None, format: str,
) -> Response:
    """One report over a period: the query's rows, rendered as JSON or CSV."""
    start, end = _period(start, end)
    rows = await query(session, group_by=group_by, start=start, end=end)
    meta = {"group_by": group_by, "from": start.isoformat(), "to": end.isoformat()}
    return _render(f"{name}-{group_by}", rows, meta, format)


FROM = Query(None, alias="from", description="period start (RFC 3339), default: 30 days before 'to'")
TO = Query(None, alias="to", description="period end, exclusive (RFC 3339), default: now")


@router.get("/compliance", summary="SLA compliance % per node, business type, tier, account manager or role")
async def compliance(
    session: SessionDep, _: ReaderDep,
    group_by: reports.GroupBy = "node",
    start: datetime | None = FROM, end: datetime | None = TO,
    format: Literal["json", "csv"] = "json",
) -> Response:
    return await _report(reports.compliance, "sla-compliance", session, group_by, start, end, format)


@router.get("/node-times", summary="Business time (and wall time) used per node: count, mean, p50, p90")
async def node_times(
    session: SessionDep, _: ReaderDep,
    group_by: reports.GroupBy = "node",
    start: datetime | None = FROM, end: datetime | None = TO,
    format: Literal["json", "csv"] = "json",
) -> Response:
    return await _report(reports.node_times, "sla-node-times", session, group_by, start, end, format)
