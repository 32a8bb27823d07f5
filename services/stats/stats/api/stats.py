"""/api/v1/stats: volumes, satisfaction, opportunity conversion and timeliness over a range of local days
(Asia/Shanghai), as JSON or CSV (`format=csv` or `Accept: text/csv`)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from backbone.errors import NotFound
from backbone.problems import field_error
from backbone.tabular import CSV_RESPONSE, csv_response, wants_csv
from stats.api.deps import (
    BusinessReaderDep,
    ContextDep,
    Principal,
    SessionDep,
    TimelinessReaderDep,
    sees_all,
)
from stats.domain.figures import SHANGHAI
from stats.services import figures
from stats.services.figures import (
    ComplaintDimension,
    Dimension,
    OpportunityBy,
    Period,
    SatisfactionBy,
    TimelinessBy,
)

router = APIRouter(prefix="/api/v1/stats", tags=["statistics"])

DEFAULT_DAYS = 30
MAX_DAYS = 366
FROM = Query(None, alias="from", description="first local day (Asia/Shanghai), default: 29 days before 'to'")
TO = Query(None, alias="to", description="last local day, included; default: today (Asia/Shanghai)")
FORMAT = Query(description="json (default) or csv; `Accept: text/csv` asks for CSV too")


class Range(BaseModel):
    from_: date = Field(serialization_alias="from", description="first local day (Asia/Shanghai), included")
    to: date = Field(description="last local day, included")


class OrderVolume(BaseModel):
    day: date | None = None
    product: str | None = None
    channel: str | None = None
    region: str | None = Field(default=None, description='"unknown" for events that carried none')
    orders: int = Field(description="orders submitted (an order of several products counts once per product)")
    items: int = Field(description="order items submitted")


class OrderVolumes(Range):
    group_by: list[Dimension]
    rows: list[OrderVolume]


class ComplaintVolume(BaseModel):
    day: date | None = None
    product: str | None = Field(default=None, description='"generic" for a complaint naming no product')
    region: str | None = None
    category: str | None = None
    severity: str | None = None
    complaints: int


class ComplaintVolumes(Range):
    group_by: list[ComplaintDimension]
    rows: list[ComplaintVolume]


class SatisfactionRow(BaseModel):
    group: str = Field(description="the product or the account manager id")
    revisits: int = Field(description="complaints revisited in the period (with a score)")
    mean_score: float | None = Field(description="mean of the scores 1..5, two decimals")
    satisfied: int = Field(description="scores of 4 or 5")
    satisfied_pct: float | None
    score_1: int
    score_2: int
    score_3: int
    score_4: int
    score_5: int


class Satisfaction(Range):
    by: SatisfactionBy
    rows: list[SatisfactionRow]


class ConversionRow(BaseModel):
    group: str = Field(description="the account manager id or the channel")
    created: int = Field(description="opportunities created in the period")
    confirmed: int = Field(description="of those, confirmed (converted) by now")
    lost: int
    open: int
    conversion_pct: float | None = Field(description="confirmed / created × 100, two decimals")


class Conversion(Range):
    by: OpportunityBy
    rows: list[ConversionRow]


class TimelinessRow(BaseModel):
    group: str = Field(description="the person id, or the department id; 'unassigned' for nobody known")
    department: str
    department_name: str
    completed: int = Field(description="node visits completed in the period")
    mean_s: float | None = Field(description="wall-clock node time (entered → completed), mean, seconds")
    p90_s: float | None = Field(description="… its 90th percentile (linear interpolation), seconds")
    judged: int = Field(description="SLA verdicts in the period: sla.met on time or late")
    on_time: int
    late: int
    on_time_pct: float | None = Field(description="on_time / judged × 100, two decimals")
    breaches: int = Field(description="sla.breached alerts in the period")
    escalations: int = Field(description="sla.escalated alerts in the period (every level counts)")


class Timeliness(Range):
    by: TimelinessBy
    rows: list[TimelinessRow]


def period_of(start: date | None, end: date | None) -> Period:
    end = end or datetime.now(SHANGHAI).date()
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise field_error("from", "must not be after 'to'")
    if (end - start).days + 1 > MAX_DAYS:
        raise field_error("from", f"a range of at most {MAX_DAYS} days")
    return Period(start, end)


def own_scope(principal: Principal) -> str | None:
    """None: every customer; else the account manager whose customers the figures are narrowed to."""
    if sees_all(principal) or principal.has("department_head"):
        return None
    return principal.subject


def _dims(values: list[str], allowed: tuple[str, ...], field: str) -> list[Any]:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise field_error(field, f"unknown dimensions {bad}; one or more of {list(allowed)}")
    return list(dict.fromkeys(values))


Format = Annotated[Literal["json", "csv"] | None, FORMAT]


@router.get("/orders", response_model=OrderVolumes, responses=CSV_RESPONSE,
            summary="Orders submitted per day, product, channel and region (as grouped)")
async def order_volumes(
    request: Request, session: SessionDep, principal: BusinessReaderDep,
    start: date | None = FROM, end: date | None = TO,
    group_by: Annotated[list[str], Query(description="day, product, channel, region (repeat or comma-separate)")]
    = ["day", "product", "channel", "region"],  # noqa: B006 - FastAPI copies defaults
    format: Format = None,
) -> OrderVolumes | Response:
    period = period_of(start, end)
    dims = _dims([d for v in group_by for d in v.split(",") if d], ("day", "product", "channel", "region"),
                 "group_by")
    rows = await figures.order_volumes(session, period, dims, account_manager=own_scope(principal))
    if wants_csv(request, format):
        return csv_response("orders", rows, [*dims, "orders", "items"])
    return OrderVolumes(from_=period.start, to=period.end, group_by=dims, rows=[OrderVolume(**r) for r in rows])


@router.get("/complaints", response_model=ComplaintVolumes, responses=CSV_RESPONSE,
            summary="Complaints created per day, product, region, category and severity (as grouped)")
async def complaint_volumes(
    request: Request, session: SessionDep, principal: BusinessReaderDep,
    start: date | None = FROM, end: date | None = TO,
    group_by: Annotated[list[str], Query(description="day, product, region, category, severity")]
    = ["day", "product", "region"],  # noqa: B006
    format: Format = None,
) -> ComplaintVolumes | Response:
    period = period_of(start, end)
    dims = _dims([d for v in group_by for d in v.split(",") if d],
                 ("day", "product", "region", "category", "severity"), "group_by")
    rows = await figures.complaint_volumes(session, period, dims, account_manager=own_scope(principal))
    if wants_csv(request, format):
        return csv_response("complaints", rows, [*dims, "complaints"])
    return ComplaintVolumes(from_=period.start, to=period.end, group_by=dims,
                            rows=[ComplaintVolume(**r) for r in rows])


@router.get("/satisfaction", response_model=Satisfaction, responses=CSV_RESPONSE,
            summary="Complaint satisfaction (revisit scores 1..5) per product or account manager")
async def satisfaction(
    request: Request, session: SessionDep, principal: BusinessReaderDep,
    start: date | None = FROM, end: date | None = TO, by: SatisfactionBy = "product", format: Format = None,
) -> Satisfaction | Response:
    period = period_of(start, end)
    rows = await figures.satisfaction(session, period, by, account_manager=own_scope(principal))
    if wants_csv(request, format):
        return csv_response(f"satisfaction-{by}", rows, list(SatisfactionRow.model_fields))
    return Satisfaction(from_=period.start, to=period.end, by=by, rows=[SatisfactionRow(**r) for r in rows])


@router.get("/opportunities", response_model=Conversion, responses=CSV_RESPONSE,
            summary="Opportunity conversion: of those created in the range, confirmed / lost / open")
async def opportunity_conversion(
    request: Request, session: SessionDep, principal: BusinessReaderDep,
    start: date | None = FROM, end: date | None = TO, by: OpportunityBy = "account_manager", format: Format = None,
) -> Conversion | Response:
    period = period_of(start, end)
    rows = await figures.opportunity_conversion(session, period, by, account_manager=own_scope(principal))
    if wants_csv(request, format):
        return csv_response(f"opportunities-{by}", rows, list(ConversionRow.model_fields))
    return Conversion(from_=period.start, to=period.end, by=by, rows=[ConversionRow(**r) for r in rows])


@router.get("/timeliness", response_model=Timeliness, responses=CSV_RESPONSE,
            summary="Timeliness per person or department: on-time %, mean and p90 node time, breaches, escalations")
async def timeliness(
    request: Request, session: SessionDep, principal: TimelinessReaderDep, ctx: ContextDep,
    start: date | None = FROM, end: date | None = TO, by: TimelinessBy = "person",
    department: Annotated[str | None, Query(max_length=60, description="only this department's people")] = None,
    format: Format = None,
) -> Timeliness | Response:
    period = period_of(start, end)
    allowed: frozenset[str] | None = None
    if not sees_all(principal):
        allowed = ctx.roster.departments_of_head(principal.subject)
    if department is not None:
        if allowed is not None and department not in allowed:
            raise NotFound(f"department {department} not found")
        allowed = frozenset({department})
    rows = await figures.timeliness(session, period, by, ctx.roster, departments=allowed)
    if wants_csv(request, format):
        return csv_response(f"timeliness-{by}", rows, list(TimelinessRow.model_fields))
    return Timeliness(from_=period.start, to=period.end, by=by, rows=[TimelinessRow(**r) for r in rows])
