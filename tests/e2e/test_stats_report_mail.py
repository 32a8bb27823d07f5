"""The statistics service on the running suite. The daily report: its scheduler finds a report day due
(planned as at 07:59:59, the service having been away at 08:00), generates it, and the report e-mail,
its CSV attached, arrives at the real SMTP server through notify; the CSV is also downloadable. And
opportunities recorded over the CRM's REST API reach the conversion figures (crm.opportunities)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

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

    # The scheduler looks every REPORT_CHECK_INTERVAL_S (30 s by default; 1 s in the suite, conftest's
    # suite_env), then relay, notify, SMTP.
    got = await eventually(arrived, timeout_s=120, interval_s=1.0, what="the daily report e-mail")
    name = f"daily-report-{day}.csv"
    assert name in got[0].attachments
    assert got[0].attachments[name].startswith(f"# daily report {day}")
    head = suite.auth("p-zhoutao", "supervisor")
    async with httpx.AsyncClient(base_url=suite.url("stats"), timeout=10, headers=head) as http:
        r = await http.get(f"/api/v1/stats/reports/{day}/download")
        assert r.status_code == 200 and r.text.replace("\r\n", "\n") == got[0].attachments[name].replace("\r\n", "\n")


async def test_crm_opportunities_reach_the_conversion_figures(suite) -> None:
    """CRM REST → crm.opportunity.* on crm.opportunities → the stats read model → GET /api/v1/stats/opportunities."""
    am = suite.auth("am_zhang", "account_manager")
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()

    async def figures() -> dict:
        async with httpx.AsyncClient(base_url=suite.url("stats"), timeout=10, headers=am) as http:
            r = await http.get("/api/v1/stats/opportunities", params={"from": today, "to": today, "by": "channel"})
            assert r.status_code == 200, r.text
            return {row["group"]: row for row in r.json()["rows"]}

    before = (await figures()).get("web_portal", {"created": 0, "confirmed": 0, "lost": 0})
    async with httpx.AsyncClient(base_url=suite.url("crm"), timeout=10, headers=am) as http:
        ids = []
        for n in range(3):
            r = await http.post("/api/v1/opportunities", json={
                "customer_id": "cus_tj_port", "title": f"统计测试商机 {n}", "channel": "web_portal",
                "products": ["dedicated_line_data"]})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        assert (await http.post(f"/api/v1/opportunities/{ids[0]}/confirm")).status_code == 200
        assert (await http.post(f"/api/v1/opportunities/{ids[1]}/lose", json={"reason": "预算不足"})).status_code == 200

    async def counted() -> dict | None:
        now = (await figures()).get("web_portal")
        ok = now and (now["created"] - before["created"], now["confirmed"] - before["confirmed"],
                      now["lost"] - before["lost"]) == (3, 1, 1)
        return now if ok else None

    await eventually(counted, timeout_s=60, interval_s=1.0, what="the opportunities in the conversion figures")
