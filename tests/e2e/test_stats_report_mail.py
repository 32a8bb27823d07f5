"""The daily report on the running suite: the statistics service's scheduler finds a report day due
(planned as at 07:59:59, the service having been away at 08:00), generates it, and the report e-mail,
its CSV attached, arrives at the real SMTP server through notify; the CSV is also downloadable."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.kafka_tools import eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_report_due_at_eight_is_mailed_with_its_csv_and_kept(suite) -> None:
    day = date(1990, 1, 1) + timedelta(days=random.randrange(0, 3000))  # a day of this run's own
    engine = create_async_engine(suite.infra.database_url)
    try:
        async with engine.begin() as conn:  # its row as a pass at 07:59:59 planned it; 08:00 has passed since
            await conn.execute(text(
                "INSERT INTO stats.daily_reports (day, due_at, status) VALUES (:day, :due, 'pending') "
                "ON CONFLICT (day) DO NOTHING"), {"day": day, "due": datetime.now(UTC) - timedelta(seconds=1)})
    finally:
        await engine.dispose()

    def mails() -> list:
        return [m for m in suite.smtp.handler.messages if str(day) in m.subject]

    async def arrived() -> list:
        return mails()

    # The scheduler looks every REPORT_CHECK_INTERVAL_S (30 s by default), then relay, notify, SMTP.
    got = await eventually(arrived, timeout_s=120, interval_s=1.0, what="the daily report e-mail")
    name = f"daily-report-{day}.csv"
    assert name in got[0].attachments
    assert got[0].attachments[name].startswith(f"# daily report {day}")
    head = suite.auth("p-zhoutao", "supervisor")
    async with httpx.AsyncClient(base_url=suite.url("stats"), timeout=10, headers=head) as http:
        r = await http.get(f"/api/v1/stats/reports/{day}/download")
        assert r.status_code == 200 and r.text.replace("\r\n", "\n") == got[0].attachments[name].replace("\r\n", "\n")
