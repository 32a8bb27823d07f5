"""The daily report: planned rows, the claim of a due one, its CSV, its event; the reads for download.

A pass at `now` (a parameter: the scheduler passes its clock, tests pass theirs) first inserts the rows of
the report days it should know (`domain.schedule.days_to_plan`, ON CONFLICT DO NOTHING), then claims the
due, pending ones with `backbone.workers.claim_due` (FOR UPDATE SKIP LOCKED) and, in the same transaction,
stores the CSV, marks the row done and emits `stats.report.generated` (notify e-mails it). Two instances:
one holds the row, the other skips it and then finds it done. A crash before the commit leaves it pending
and due: the next pass, on any instance, generates it.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.events import DailyReportGenerated
from backbone.outbox import emit
from backbone.workers import claim_due
from stats.domain.roster import Roster
from stats.domain.schedule import days_to_plan, due_at
from stats.models import daily_reports
from stats.services import figures
from stats.services.figures import Period

CSV_TYPE = "text/csv"


def filename_of(day: date) -> str:
    return f"daily-report-{day.isoformat()}.csv"


async def plan(session: AsyncSession, now: datetime, *, at: time, catch_up_days: int) -> None:
    days = days_to_plan(now, catch_up_days=catch_up_days, at=at)
    await session.execute(insert(daily_reports).values([
        {"day": d, "due_at": due_at(d, at=at), "status": "pending"} for d in days
    ]).on_conflict_do_nothing(index_elements=["day"]))


def _section(out: Any, title: str, rows: list[dict[str, Any]], columns: list[str]) -> int:
    out.writerow([f"# {title}"])
    out.writerow(columns)
    for r in rows:
        out.writerow(["" if r.get(c) is None else r.get(c) for c in columns])
    out.writerow([])
    return len(rows)


async def build_csv(session: AsyncSession, day: date, roster: Roster) -> tuple[str, int]:
    """The report of one day: volumes, satisfaction, opportunity conversion, timeliness (CSV sections)."""
    p = Period(day, day)
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow([f"# daily report {day.isoformat()} (Asia/Shanghai)"])
    out.writerow([])
    n = _section(out, "orders per product, channel, region",
                 await figures.order_volumes(session, p, ["product", "channel", "region"]),
                 ["product", "channel", "region", "orders", "items"])
    n += _section(out, "complaints per product, region",
                  await figures.complaint_volumes(session, p, ["product", "region"]),
                  ["product", "region", "complaints"])
    sat_cols = ["group", "revisits", "mean_score", "satisfied_pct", "score_1", "score_2", "score_3", "score_4",
                "score_5"]
    n += _section(out, "complaint satisfaction per product", await figures.satisfaction(session, p, "product"),
                  sat_cols)
    n += _section(out, "complaint satisfaction per account manager",
                  await figures.satisfaction(session, p, "account_manager"), sat_cols)
    n += _section(out, "opportunity conversion per account manager (opportunities created that day)",
                  await figures.opportunity_conversion(session, p, "account_manager"),
                  ["group", "created", "confirmed", "lost", "open", "conversion_pct"])
    t_cols = ["group", "department", "completed", "mean_s", "p90_s", "judged", "on_time", "on_time_pct", "breaches",
              "escalations"]
    n += _section(out, "timeliness per department", await figures.timeliness(session, p, "department", roster),
                  t_cols)
    n += _section(out, "timeliness per person", await figures.timeliness(session, p, "person", roster), t_cols)
    return buf.getvalue(), n


async def generate_due(session: AsyncSession, now: datetime, roster: Roster, *, generated_by: str,
                       limit: int = 5) -> list[date]:
    """Generate the due, pending reports this transaction can claim; the days generated."""
    rows = (await session.execute(claim_due(
        daily_reports, daily_reports.c.status == "pending", daily_reports.c.due_at <= now,
        order_by=daily_reports.c.due_at, limit=limit, columns=(daily_reports.c.day,),
    ))).all()
    done = []
    for (day,) in rows:
        content, count = await build_csv(session, day, roster)
        name = filename_of(day)
        await session.execute(update(daily_reports).where(daily_reports.c.day == day).values(
            status="done", generated_at=now, generated_by=generated_by, filename=name, content=content, rows=count))
        await emit(session, DailyReportGenerated(
            day=day, title=f"每日统计报表 Daily report {day.isoformat()}", filename=name, content_type=CSV_TYPE,
            content=content, rows=count, generated_at=now), subject=f"daily-report-{day.isoformat()}")
        done.append(day)
    return done


async def run_pass(session: AsyncSession, now: datetime, roster: Roster, *, at: time, catch_up_days: int,
                   generated_by: str, planned: list[date] | None = None) -> list[date]:
    """One scheduler pass (in the caller's transaction): plan, then generate what is due.

    `planned`: the days this instance planned last (their rows exist): the inserts are skipped while the days
    to plan stay the same (an idle pass is then one indexed SELECT).
    """
    if planned != days_to_plan(now, catch_up_days=catch_up_days, at=at):
        await plan(session, now, at=at, catch_up_days=catch_up_days)
    return await generate_due(session, now, roster, generated_by=generated_by)


async def list_reports(session: AsyncSession, *, limit: int) -> list[dict[str, Any]]:
    c = daily_reports.c
    stmt = select(c.day, c.due_at, c.status, c.generated_at, c.generated_by, c.filename, c.rows).order_by(
        c.day.desc()).limit(limit)
    return [dict(r._mapping) for r in (await session.execute(stmt)).all()]


async def report_file(session: AsyncSession, day: date) -> tuple[str, str] | None:
    """(filename, CSV) of a generated report; None if there is none (not due yet, or unknown day)."""
    c = daily_reports.c
    row = (await session.execute(select(c.filename, c.content).where(c.day == day, c.status == "done"))).first()
    return (row.filename, row.content) if row else None
