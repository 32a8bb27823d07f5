"""Network staff work their queue: one claims a node task and completes it through the action dialog,
while a colleague who claims the same task a moment later (from the list they loaded before) is told
plainly that someone else claimed it first (the 409 of `expected_version`).

The ticket's first node (order acceptance, where every ticket of the session waits) is passed over the
API first: the test works the second one, resource check, whose queue is short, so the row is on the
queue's first page instead of behind the whole session's backlog."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import api, eventually, t, ticket_of

ORDER = {"customer_id": "cus_tj_port", "channel": "account_manager", "submit": True,
         "items": [{"product": "dedicated_line_data", "business_kind": "opening",
                    "attributes": {"bandwidth_mbps": 100, "a_end_address": "天津港", "z_end_address": "机房"}}]}


def show_in_queue(console, page, ticket_id: str, role: str) -> None:
    """The queue of the node's role (oldest first, 50 a page) scrolled on with "more" until the
    ticket's row is there."""
    console.visit(page, "/queue")
    chooser = page.locator("[data-testid=queue-role]")
    if chooser.input_value() != role:
        chooser.select_option(role)
        console.settle(page)
    rows = page.locator("[data-ticket]")
    rows.first.or_(page.get_by_text(t("queue.empty"))).wait_for()
    more = page.get_by_role("button", name=t("app.more"))
    for _ in range(100):
        if page.locator(f'[data-ticket="{ticket_id}"]').count():
            return
        if not more.count():
            break
        shown = rows.count()
        more.click()
        page.wait_for_function("n => document.querySelectorAll('[data-ticket]').length > n", arg=shown)
    raise AssertionError(f"{ticket_id} is not in the queue")


def act(suite, ticket: dict[str, Any], action: str, **body: Any) -> dict[str, Any]:
    r = api(suite, "eoms-bridge", "POST", f"/api/v1/tickets/{ticket['id']}/actions/{action}",
            who=("p-wanglei", "network_staff"), json={"expected_version": ticket["version"], **body})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_worker_claims_and_completes_while_a_colleague_sees_the_conflict(console, suite):
    r = api(suite, "crm", "POST", "/api/v1/orders", who=("am_zhang", "account_manager"), json=ORDER)
    assert r.status_code == 201, r.text
    ticket = ticket_of(suite, r.json()["id"])
    assert ticket["current_node"] == "order_acceptance_check"
    ticket = act(suite, act(suite, ticket, "accept"), "complete", outcome="accepted")
    ticket_id, first_node, role = ticket["id"], ticket["current_node"], ticket["current_role"]
    assert (first_node, role) == ("resource_check", "network_resource")

    wang = console.open_as("p-wanglei")
    zhao = console.open_as("p-zhaomin")  # a colleague working resource checks too
    show_in_queue(console, wang, ticket_id, role)
    show_in_queue(console, zhao, ticket_id, role)
    claim = f'[data-ticket="{ticket_id}"] button.primary'

    wang.click(claim)
    wang.wait_for_selector("[role=dialog]")
    console.shot(wang, "queue-dialog")

    zhao.click(claim)
    conflict = zhao.wait_for_selector(".conflict")
    assert conflict.text_content().startswith(t("queue.conflict", detail="")), conflict.text_content()
    console.shot(zhao, "queue-conflict")

    # complete the node with an outcome the workflow offers (a list when the role may read the
    # workflow, else the outcome typed in)
    wang.check("[role=dialog] input[name=action][value=complete]")
    if wang.locator("[role=dialog] select[name=outcome]").count():
        wang.select_option("[role=dialog] select[name=outcome]", "available")
    else:
        wang.fill("[role=dialog] input[name=outcome]", "available")
    wang.click("[role=dialog] button.primary")
    wang.wait_for_selector("[role=dialog]", state="detached", timeout=15_000)

    def moved_on():
        r = api(suite, "eoms-bridge", "GET", f"/api/v1/tickets/{ticket_id}")
        return r.json() if r.status_code == 200 and r.json()["current_node"] != first_node else None

    after = eventually(moved_on, what=f"{ticket_id} leaving {first_node}")
    assert after["current_node"] == "confirmation_review"
    (visit,) = [v for v in after["nodes"] if v["node"] == first_node]
    assert (visit["assignee"], visit["outcome"], visit["left_by"]) == ("p-wanglei", "available", "p-wanglei")

    # the ticket as a supervisor drills into it: the graph, the history, the timers
    sup = console.open_as("p-liuyang")
    console.visit(sup, f"/tickets/{ticket_id}")
    sup.wait_for_selector(".wf-graph")
    console.shot(sup, "ticket", full_page=True)
