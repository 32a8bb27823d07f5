"""An account manager's order, placed through the workbench form generated from the product's JSON
Schema, appears on a supervisor's open SLA board and turns breached without a reload (the short policy
of the suite: a node breaches seconds after its ticket starts)."""

from __future__ import annotations

import re

from tests.browser.conftest import t, ticket_of


def test_an_order_from_the_workbench_turns_breached_on_the_open_board(console, suite):
    # the supervisor's board is open and live before the order exists
    sup = console.open_as("p-liuyang")
    sup.wait_for_url(re.compile(r"/board$"))
    sup.wait_for_selector("[data-stream=open]", timeout=30_000)
    sup.evaluate("window.__sameDocument = true")  # gone if the page reloads

    # the account manager fills the form: the browser's required-field errors first
    am = console.open_as("am_zhang")
    am.wait_for_url(re.compile(r"/workbench$"))
    am.get_by_role("button", name=t("wb.newOrder")).click()
    am.wait_for_selector("[data-testid=order-form]")
    am.select_option("select[name='items.0.product']", "dedicated_line_data")
    am.wait_for_selector("select[name=bandwidth_mbps]")
    am.get_by_role("button", name=t("order.create")).click()
    am.wait_for_selector(f"[data-testid=order-form] >> text={t('form.required')}")
    console.shot(am, "order-form-errors")
    am.select_option("select[name=bandwidth_mbps]", "100")
    am.fill("input[name=a_end_address]", "天津港")
    am.fill("input[name=z_end_address]", "IDC")
    am.get_by_role("button", name=t("order.create")).click()
    am.wait_for_url(re.compile(r"/orders/[^/]+$"), timeout=20_000)
    order_id = am.url.rsplit("/", 1)[-1]
    ticket_id = ticket_of(suite, order_id)["id"]

    # the board, untouched but for its search box, shows the ticket's timer breached
    sup.fill(".filters input[type=search]", ticket_id)
    row = f"[data-timer]:has(a[href='/tickets/{ticket_id}'])"
    sup.wait_for_selector(f"{row}[data-state=breached], {row}[data-state=escalated]", timeout=60_000)
    assert sup.evaluate("window.__sameDocument") is True, "the board was reloaded"
    sup.fill(".filters input[type=search]", "")
    sup.wait_for_timeout(300)
    console.shot(sup, "board")

    # the order's timeline, and the order on the workbench
    am.reload()
    am.wait_for_selector(f"text={t('order.timeline')}")
    am.wait_for_selector(f"a[href='/tickets/{ticket_id}']", timeout=20_000)
    console.shot(am, "order", full_page=True)
    console.visit(am, "/workbench")
    am.wait_for_selector(f'[data-order="{order_id}"]')
    console.shot(am, "workbench")
