"""A department head opens the statistics: the timeliness table shows their department (the network
department's node work, done a moment before by one of its engineers), per department and per person,
and the CSV the stats service writes downloads as it is (issue 13, "a department head downloads the
timeliness table of their department")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.conftest import api, eventually, t, ticket_of
from tests.browser.test_console_queue import ORDER, act

HEAD = ("p-zhoutao", "department_head")  # heads the network department (stats roster, notify directory)


def network_row(suite: Any) -> dict[str, Any] | None:
    r = api(suite, "stats", "GET", "/api/v1/stats/timeliness", who=HEAD, params={"by": "department"})
    assert r.status_code == 200, r.text
    return next((row for row in r.json()["rows"] if row["group"] == "network" and row["completed"]), None)


def test_a_department_head_reads_and_downloads_the_timeliness_of_their_department(console, suite, tmp_path: Path):
    # one node of a new order's ticket worked by a network engineer: a node visit of the network department
    r = api(suite, "crm", "POST", "/api/v1/orders", who=("am_zhang", "account_manager"), json=ORDER)
    assert r.status_code == 201, r.text
    ticket = ticket_of(suite, r.json()["id"])
    act(suite, act(suite, ticket, "accept"), "complete", outcome="accepted")
    eventually(lambda: network_row(suite), timeout_s=120, what="the network department's node time in stats")

    page = console.open_as("p-zhoutao")
    page.wait_for_url("**/stats")
    assert [a.get_attribute("href") for a in page.query_selector_all("header nav a")] == ["/stats"]
    table = page.get_by_role("table", name=t("stats.timeliness"))
    table.wait_for()
    departments = [c.inner_text() for c in table.locator("tbody tr td:first-child").all()]
    assert "网络部" in departments, departments
    assert "政企客户部" not in departments, departments  # another department: not theirs
    page.wait_for_selector(".chart svg, .card p.muted", timeout=15_000)
    console.settle(page)
    console.shot(page, "stats", full_page=True)

    # per person: the engineer who worked the node, under the network department
    page.get_by_role("combobox", name=t("reports.groupBy")).first.select_option("person")
    page.locator("table tbody tr td:first-child", has_text="p-wanglei").first.wait_for()

    with page.expect_download() as download:
        page.get_by_role("button", name=t("reports.csv")).first.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "timeliness-person.csv"
    lines = saved.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("group,department,department_name,completed,mean_s,p90_s"), lines[0]
    people = {line.split(",")[0]: line.split(",")[1] for line in lines[1:]}
    assert people.get("p-wanglei") == "network", lines
    assert set(people.values()) <= {"network", "partner", "unassigned"}, people  # the departments p-zhoutao heads
