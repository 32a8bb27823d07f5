"""/api/v1/stats/reports: the daily reports (generated at 08:00 Asia/Shanghai for the day before), kept for
download."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from backbone.errors import NotFound
from stats.api.deps import ReportReaderDep, SessionDep
from stats.services import reports

router = APIRouter(prefix="/api/v1/stats/reports", tags=["daily reports"])


class ReportOut(BaseModel):
    day: date = Field(description="the report's day (its figures: 00:00-24:00 Asia/Shanghai)")
    due_at: datetime = Field(description="08:00 Asia/Shanghai the next morning")
    status: str = Field(description="pending (not generated yet) or done")
    generated_at: datetime | None
    generated_by: str | None = Field(description="the instance that generated it")
    filename: str | None
    rows: int | None = Field(description="data rows in the CSV")


class ReportList(BaseModel):
    items: list[ReportOut]


@router.get("", response_model=ReportList, summary="The daily reports, newest day first (done and planned)")
async def list_reports(
    session: SessionDep, _: ReportReaderDep,
    limit: int = Query(30, ge=1, le=366, description="at most this many days"),
) -> ReportList:
    return ReportList(items=[ReportOut(**r) for r in await reports.list_reports(session, limit=limit)])


@router.get("/{day}/download", summary="A generated daily report, as the CSV file that was e-mailed",
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "the CSV"},
                       404: {"description": "no report generated for that day"}})
async def download(day: date, session: SessionDep, _: ReportReaderDep) -> Response:
    found = await reports.report_file(session, day)
    if found is None:
        raise NotFound(f"no daily report generated for {day.isoformat()}")
    name, content = found
    return Response(content, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
