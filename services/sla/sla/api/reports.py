"""/api/v1/reports: SLA compliance, node times and breaches per day for ops and KPI, as JSON or CSV."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from backbone.inputs import TimezoneName
from backbone.problems import field_error
from backbone.tabular import CSV_RESPONSE, csv_response, wants_csv
from sla.api.deps import ReaderDep, SessionDep
from sla.services import reports

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

DEFAULT_PERIOD = timedelta(days=30)
MAX_DAYS = 366  # breaches per day: one row per day (and group)


class _Report(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from", description="period start (inclusive)")
    to: datetime = Field(description="period end (exclusive)")


class ComplianceRow(BaseModel):
    group: str | None = Field(description="the group's key (a node, business type, tier, account manager id…)")
    judged: int = Field(description="timers whose verdict is final: completed in the period, or open and breached "
                                    "with the deadline in it")
    on_time: int
    completed_late: int
    open_breached: int
    compliance_pct: float = Field(description="on_time / judged × 100, two decimals")


class ComplianceReport(_Report):
    group_by: reports.GroupBy
    rows: list[ComplianceRow]


class NodeTimeRow(BaseModel):
    group: str | None
    completed: int
    mean_s: float = Field(description="business time used (the rule's clock), mean, seconds")
    p50_s: float
    p90_s: float
    mean_wall_s: float = Field(description="wall-clock time from start to completion, mean, seconds")
    p90_wall_s: float


class NodeTimeReport(_Report):
    group_by: reports.GroupBy
    rows: list[NodeTimeRow]


class BreachDay(BaseModel):
    day: date = Field(description="the local day (of `tz`)")
    group: str | None = Field(description="the group's key with `group_by`, else null")
    breached: int = Field(description="sla.breached alerts fired that day (one per breached timer)")
    escalated: int = Field(description="sla.escalated alerts fired that day (every level counts)")


class BreachReport(_Report):
    bucket: Literal["day"]
    tz: str
    group_by: reports.GroupBy | None
    rows: list[BreachDay] = Field(description="without group_by: every day of the period, zeros included; with it: "
                                              "the (day, group) pairs that had some, by day then group")


def _period(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end = end or datetime.now(UTC)
    start = start or end - DEFAULT_PERIOD
    if start.tzinfo is None or end.tzinfo is None:
        raise field_error("from" if start.tzinfo is None else "to", "give a time zone (e.g. Z or +08:00)")
    if start >= end:
        raise field_error("from", "must be before 'to'")
    return start, end


FROM = Query(None, alias="from", description="period start (RFC 3339), default: 30 days before 'to'")
TO = Query(None, alias="to", description="period end, exclusive (RFC 3339), default: now")


@router.get("/compliance", response_model=ComplianceReport, responses=CSV_RESPONSE,
            summary="SLA compliance % per node, business type, tier, account manager or role")
async def compliance(
    request: Request, session: SessionDep, _: ReaderDep,
    group_by: reports.GroupBy = "node",
    start: datetime | None = FROM, end: datetime | None = TO,
    format: Literal["json", "csv"] | None = None,
) -> ComplianceReport | Response:
    start, end = _period(start, end)
    rows = await reports.compliance(session, group_by=group_by, start=start, end=end)
    if wants_csv(request, format):
        return csv_response(f"sla-compliance-{group_by}", rows, list(ComplianceRow.model_fields))
    return ComplianceReport(from_=start, to=end, group_by=group_by, rows=[ComplianceRow(**r) for r in rows])


@router.get("/node-times", response_model=NodeTimeReport, responses=CSV_RESPONSE,
            summary="Business time (and wall time) used per node: count, mean, p50, p90")
async def node_times(
    request: Request, session: SessionDep, _: ReaderDep,
    group_by: reports.GroupBy = "node",
    start: datetime | None = FROM, end: datetime | None = TO,
    format: Literal["json", "csv"] | None = None,
) -> NodeTimeReport | Response:
    start, end = _period(start, end)
    rows = await reports.node_times(session, group_by=group_by, start=start, end=end)
    if wants_csv(request, format):
        return csv_response(f"sla-node-times-{group_by}", rows, list(NodeTimeRow.model_fields))
    return NodeTimeReport(from_=start, to=end, group_by=group_by, rows=[NodeTimeRow(**r) for r in rows])


@router.get("/breaches", response_model=BreachReport, responses=CSV_RESPONSE,
            summary="Breaches and escalations fired per day (in a time zone), optionally per group")
async def breaches(
    request: Request, session: SessionDep, _: ReaderDep,
    start: datetime | None = FROM, end: datetime | None = TO,
    bucket: Literal["day"] = Query("day", description="the bucket (one day of `tz`)"),
    tz: Annotated[TimezoneName, Query(max_length=60, description="the IANA zone the days are of")] = "Asia/Shanghai",
    group_by: reports.GroupBy | None = Query(None, description="also split by node, business type, tier…"),
    format: Literal["json", "csv"] | None = None,
) -> BreachReport | Response:
    start, end = _period(start, end)
    if end - start > timedelta(days=MAX_DAYS):
        raise field_error("from", f"a period of at most {MAX_DAYS} days")
    rows = await reports.breaches_per_day(session, start=start, end=end, tz=tz, group_by=group_by)
    if wants_csv(request, format):
        return csv_response(f"sla-breaches-{group_by or 'day'}", rows, list(BreachDay.model_fields))
    return BreachReport(from_=start, to=end, bucket=bucket, tz=tz, group_by=group_by,
                        rows=[BreachDay(**r) for r in rows])
