"""Every screen of every persona opens without a script error (the `console` fixture fails a test on
any page error or console error), the navigation follows the roles, and the language switch turns the
whole console to English and back, remembered across a reload."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import api, t, ticket_of

#: persona → what its navigation offers (docs/console.md "Screens")
NAV = {
    "p-liuyang": ["/board", "/reports", "/stats", "/dispatch", "/queue", "/workbench", "/admin/policies",
                  "/admin/workflows", "/admin/directory", "/admin/status"],
    "p-wanglei": ["/board", "/reports", "/queue", "/mine"],
    "am_zhang": ["/stats", "/queue", "/workbench"],
    "p-zhoutao": ["/stats"],
    "p-liangyu": ["/queue", "/mine"],
    "p-majun": ["/dispatch"],
    "p-caoyang": ["/board", "/reports", "/stats", "/dispatch", "/queue", "/workbench", "/admin/policies",
                  "/admin/workflows", "/admin/directory", "/admin/status"],
}


@pytest.fixture(scope="module")
def order_and_ticket(suite):
    r = api(suite, "crm", "POST", "/api/v1/complaints", who=("am_zhang", "account_manager"), json={
        "customer_id": "cus_tj_port", "category": "fault", "severity": "high",
        "description": "浏览器测试：专线中断"})
    assert r.status_code == 201, r.text
    complaint_id = r.json()["id"]
    r = api(suite, "crm", "POST", "/api/v1/orders", who=("am_zhang", "account_manager"), json={
        "customer_id": "cus_tj_port", "channel": "account_manager", "submit": True,
        "items": [{"product": "dedicated_line_data", "business_kind": "opening",
                   "attributes": {"bandwidth_mbps": 50, "a_end_address": "天津港", "z_end_address": "机房"}}]})
    assert r.status_code == 201, r.text
    order_id = r.json()["id"]
    return order_id, complaint_id, ticket_of(suite, order_id)["id"]


#: the admin walks every screen in English, the others in Chinese
LANG = {"p-caoyang": "en"}


@pytest.mark.parametrize("persona", list(NAV))
def test_every_screen_of_a_persona_opens_without_a_script_error(console, persona, order_and_ticket):
    order_id, complaint_id, ticket_id = order_and_ticket
    lang = LANG.get(persona, "zh-CN")
    page = console.open_as(persona, lang)
    offered = [a.get_attribute("href") for a in page.query_selector_all("header nav a")]
    for path in list(offered):
        console.visit(page, path)
        if path.startswith("/admin"):  # the admin section's own navigation
            sub = [a.get_attribute("href") for a in page.query_selector_all(".subnav a")]
            offered = [p for p in offered if p != path] + sub
            for sub_path in sub[1:]:
                console.visit(page, sub_path)
        if (persona, path) == ("p-liuyang", "/reports"):
            page.wait_for_selector(".chart svg, .chart canvas, .card p.muted", timeout=15_000)
            console.shot(page, "reports", full_page=True)
    assert sorted(offered) == sorted(NAV[persona]), offered
    assert page.text_content("main h1") != "" and page.evaluate("document.documentElement.lang") == lang

    if persona in ("p-zhoutao", "p-liangyu"):  # a department head works no ticket; the order's ticket is
        return  # not the partner's (a 404: tests/security)
    console.visit(page, f"/tickets/{ticket_id}")
    if persona == "p-majun":  # a dispatcher reads every ticket; orders and complaints are the CRM's
        return
    if persona == "p-wanglei":  # network staff: no orders, no admin page even by its address
        page.goto(f"{console.url}/admin/policies")
        page.wait_for_selector(f"text={t('app.forbidden')}")
        return
    console.visit(page, f"/orders/{order_id}")
    console.visit(page, f"/complaints/{complaint_id}")
    if persona == "am_zhang":
        console.shot(page, "complaint", full_page=True)


def test_the_login_screen_offers_the_personas(console):
    page = console.page("anonymous")
    page.goto(f"{console.url}/board")
    page.wait_for_url(re.compile(r"/login"))
    page.wait_for_selector("[data-persona]")
    assert {b.get_attribute("data-persona") for b in page.query_selector_all("[data-persona]")} >= set(NAV)
    console.shot(page, "login")


def test_the_language_switch_turns_everything_to_english_and_is_remembered(console):
    page = console.open_as("p-liuyang", lang=None)  # no preset: the console's default and its switch
    page.wait_for_selector(f"h1:has-text('{t('board.title')}')")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.title() == t("app.title")
    page.select_option(".lang select", "en")
    page.wait_for_selector(f"h1:has-text('{t('board.title', 'en')}')")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.title() == t("app.title", "en")
    nav = [a.text_content() for a in page.query_selector_all("header nav a")]
    assert t("nav.reports", "en") in nav and t("nav.reports") not in nav
    page.reload()
    page.wait_for_selector(f"h1:has-text('{t('board.title', 'en')}')")
    console.settle(page)
    console.shot(page, "board-en")
    console.visit(page, "/queue")
    assert page.text_content("main h1") == t("queue.title", "en")

    worker = console.open_as("p-wanglei", lang="en")
    worker.wait_for_selector(f"h1:has-text('{t('queue.title', 'en')}')")
    console.settle(worker)
    console.shot(worker, "queue-en")

    page.select_option(".lang select", "zh-CN")
    page.wait_for_selector(f"h1:has-text('{t('queue.title')}')")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
