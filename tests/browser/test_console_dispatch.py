"""A dispatcher hands out node tasks (issue 13's dispatch, on the console): `p-majun` (dispatcher, no node
of its own) lands on the dispatch screen, picks the region of a fresh resource-check task (network_resource
is dispatched on demand, so it waits unassigned), assigns it to a named person of the role from the
organisation (on duty and load shown), reassigns it to another, and auto-dispatches a second task to
whoever is on duty; each checked on the EOMS API. The engineer it went to finds it under "my tasks"."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import api, t, ticket_of
from tests.browser.test_console_queue import ORDER, act

REGION = "天津-滨海新区"  # cus_tj_port's; network_resource there: p-zhaomin, p-qianjun (organisation.yaml)


def fresh_resource_check(suite: Any) -> dict[str, Any]:
    """A new order's ticket passed over the API to its second node, resource check, unassigned."""
    r = api(suite, "crm", "POST", "/api/v1/orders", who=("am_zhang", "account_manager"), json=ORDER)
    assert r.status_code == 201, r.text
    ticket = act(suite, act(suite, ticket_of(suite, r.json()["id"]), "accept"), "complete", outcome="accepted")
    assert (ticket["current_node"], ticket["current_role"], ticket["assignee"]) == (
        "resource_check", "network_resource", None)
    assert ticket["customer_region"] == REGION
    return ticket


def assignee(suite: Any, ticket_id: str) -> str | None:
    return api(suite, "eoms-bridge", "GET", f"/api/v1/tickets/{ticket_id}").json()["assignee"]  # type: ignore[no-any-return]


def test_a_dispatcher_assigns_reassigns_and_auto_dispatches(console, suite):
    first, second = fresh_resource_check(suite), fresh_resource_check(suite)
    page = console.open_as("p-majun")
    page.wait_for_selector(f"main h1:has-text('{t('dispatch.title')}')")  # the dispatcher's home
    console.settle(page)
    assert page.locator("[data-testid=dispatch-role]").input_value() == "network_resource"
    page.select_option("[data-testid=dispatch-region]", REGION)
    console.settle(page)
    row = page.locator(f'[data-ticket="{first["id"]}"]')
    row.wait_for()
    assert row.locator("[data-col=assignee]").text_content() == t("board.unassigned")
    regions = {r for r in page.locator("[data-ticket] td:nth-child(4)").all_text_contents()}
    assert regions == {REGION}, regions

    # assign to a named person: the role's people, on duty first, with their load
    row.get_by_role("button", name=t("dispatch.assign")).click()
    chooser = page.locator("[data-testid=assign-to]")
    page.wait_for_selector("[data-testid=assign-to] option[value='p-qianjun']", state="attached")
    labels = {o.get_attribute("value"): o.text_content() for o in chooser.locator("option").all()}
    assert set(labels) == {"", "p-wanglei", "noc_wang", "p-zhaomin", "p-qianjun"}, labels  # network_resource only
    assert labels["p-qianjun"].startswith("钱军 · 网络部滨海分部 · ") and "在办" in labels["p-qianjun"]
    chooser.select_option("p-qianjun")
    console.shot(page, "dispatch", full_page=True)
    page.get_by_role("button", name=t("dispatch.send"), exact=True).click()
    page.wait_for_selector(f"[role=status]:has-text('{t('dispatch.done', id=first['id'], name='钱军')}')")
    assert assignee(suite, first["id"]) == "p-qianjun"

    # the task left the "unassigned" view; among all, it shows its assignee by name; reassign it
    console.settle(page)
    assert page.locator(f'[data-ticket="{first["id"]}"]').count() == 0
    page.select_option("[data-testid=dispatch-show]", "all")
    row = page.locator(f'[data-ticket="{first["id"]}"]')
    row.wait_for()
    assert row.locator("[data-col=assignee]").text_content() == "钱军"
    row.get_by_role("button", name=t("dispatch.reassign")).click()
    page.wait_for_selector("[data-testid=assign-to] option[value='p-zhaomin']", state="attached")
    assert page.locator("[data-testid=assign-to] option[value='p-qianjun']").count() == 0  # not to whom it is
    page.select_option("[data-testid=assign-to]", "p-zhaomin")
    page.get_by_role("button", name=t("dispatch.send"), exact=True).click()
    page.wait_for_selector(f"[role=status]:has-text('{t('dispatch.done', id=first['id'], name='赵敏')}')")
    history = api(suite, "eoms-bridge", "GET", f"/api/v1/tickets/{first['id']}").json()["history"]
    notes = [h["note"] for h in history if h["event_type"] == "eoms.ticket.node_assigned"]
    assert notes[-2:] == ["manual: assignee - -> p-qianjun", "manual: assignee p-qianjun -> p-zhaomin"], notes

    # auto-dispatch: the on-duty person of the role in the region, by the role's rule (round robin)
    page.locator(f'[data-ticket="{second["id"]}"]').get_by_role("button", name=t("dispatch.auto")).click()
    page.wait_for_selector(f"[role=status]:has-text('{second['id']}')")
    assert assignee(suite, second["id"]) in {"p-zhaomin", "p-qianjun"}  # Binhai's roster: someone, day or night

    # the engineer finds it among the tasks assigned to them, and opens it
    zhao = console.open_as("p-zhaomin")
    console.visit(zhao, "/mine")
    mine = zhao.locator(f'[data-ticket="{first["id"]}"]')
    mine.wait_for()
    console.shot(zhao, "mine", full_page=True)
    mine.get_by_role("link", name=t("mine.work")).click()
    zhao.wait_for_url(lambda u: u.endswith(f"/tickets/{first['id']}"))
    # theirs to start: the ticket offers them its actions (accept first)
    zhao.wait_for_selector(f"main button.primary:has-text('{t('queue.act')}')")
