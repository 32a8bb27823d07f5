"""Customers (USCC, tier with its reasons, re-grading events), key persons (masking), pagination."""

from __future__ import annotations

import logging

import pytest
from crm_testkit import FACTORS_B, assert_problem, auth, events_of, new_uscc, payload_matches

from backbone.events import CustomerTierChanged
from backbone.topics import CRM_CUSTOMERS
from crm.domain.uscc import complete_uscc
from tests.support.kafka_tools import eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")

ADMIN = auth("root", "admin")


async def test_account_manager_registers_a_customer_for_themselves(crm, am):
    body = {"name": "天津某物流有限公司", "uscc": new_uscc(), "industry": "logistics", "region": "天津-东丽区",
            "factors": FACTORS_B}
    r = await crm.http.post("/api/v1/customers", json=body, headers=auth(am, "account_manager"))
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["account_manager_id"] == am and c["tier"] == "B" and r.headers["location"].endswith(c["id"])
    r = await crm.http.post("/api/v1/customers", json={**body, "uscc": new_uscc(), "account_manager_id": "am_other"},
                            headers=auth(am, "account_manager"))
    assert_problem(r, 403, "account_manager_id")


@pytest.mark.parametrize(("uscc", "reason", "position"), [
    ("91120000103064001", "length", None),
    ("91120000103O640078", "character", 12),
    ("B1120000103064007H", "registration_authority", 1),
    ("95120000103064007H", "entity_category", 2),
    ("91990000103064007H", "division_code", 3),
    ("91120000103064008H", "org_code_check", 17),
    ("91120000103064007A", "check_character", 18),
])
async def test_a_wrong_uscc_is_422_naming_the_field_and_the_reason(crm, am, uscc, reason, position):
    body = {"name": "x", "uscc": uscc, "industry": "retail", "region": "天津", "account_manager_id": am,
            "factors": FACTORS_B}
    problem = assert_problem(await crm.http.post("/api/v1/customers", json=body, headers=ADMIN), 422, "uscc")
    error = problem["errors"][0]
    assert error["field"] == "uscc" and error["reason"] == reason and error["message"]
    assert error.get("position") == position
    r = await crm.http.get("/api/v1/customers", params={"manager": am}, headers=ADMIN)
    assert r.json()["items"] == [], "nothing is written on a rejected request"


async def test_same_uscc_twice_is_409(crm, am):
    c = await crm.customer(am)
    r = await crm.http.post("/api/v1/customers", headers=ADMIN, json={
        "name": "y", "uscc": c["uscc"], "industry": "retail", "region": "天津", "account_manager_id": am,
        "factors": FACTORS_B})
    assert_problem(r, 409, "uscc")


@pytest.mark.parametrize(("industry", "factors", "tier", "score", "forced"), [
    ("logistics", {"employees": 8000, "handset_share": 0.9, "informatization_level": 5, "unified_payment": "full",
                   "influence": 5}, "A", 97.5, False),
    ("manufacturing", FACTORS_B, "B", 55.5, False),
    ("retail", {"employees": 25, "handset_share": 0.3, "informatization_level": 2, "unified_payment": "none",
                "influence": 1}, "C", 14.25, False),
    ("finance", {"employees": 25, "handset_share": 0.3, "informatization_level": 2, "unified_payment": "none",
                 "influence": 1}, "A", 14.25, True),
])
async def test_tier_is_graded_from_weighted_factors_and_explained(crm, am, industry, factors, tier, score, forced):
    c = await crm.customer(am, industry=industry, factors=factors)
    t = c["tiering"]
    assert (c["tier"], t["tier"], t["score"], t["forced"]) == (tier, tier, score, forced)
    assert c["key_customer"] is (industry == "finance")
    assert [x["factor"] for x in t["contributions"]] == [
        "employees", "handset_share", "informatization_level", "unified_payment", "influence"]
    assert sum(x["points"] for x in t["contributions"]) == pytest.approx(score, abs=0.01)
    for x in t["contributions"]:
        assert x["points"] == pytest.approx(x["weight"] * x["normalized"], abs=0.01)
    assert sum(x["weight"] for x in t["contributions"]) == 100
    assert t["explanation"]


async def test_regrading_to_another_tier_emits_tier_changed(crm, am):
    c = await crm.customer(am)
    assert c["tier"] == "B"
    r = await crm.http.patch(f"/api/v1/customers/{c['id']}", headers=auth(am, "account_manager"),
                             json={"factors": {"employees": 9000, "handset_share": 0.95, "unified_payment": "full",
                                               "influence": 5, "informatization_level": 5}})
    assert r.status_code == 200, r.text
    assert r.json()["tier"] == "A" and r.json()["tiering"]["score"] >= 70
    # a change that keeps the tier emits nothing new
    r = await crm.http.patch(f"/api/v1/customers/{c['id']}", headers=auth(am, "account_manager"),
                             json={"factors": {"employees": 9500}, "region": "天津-滨海新区"})
    assert r.status_code == 200 and r.json()["tier"] == "A" and r.json()["region"] == "天津-滨海新区"

    async def changes():
        return await events_of(crm.infra.kafka_bootstrap, CRM_CUSTOMERS, c["id"], {"crm.customer.tier_changed"})

    await eventually(lambda: _count(changes, 2), timeout_s=15, what="two tier_changed events")
    created, regraded = await changes()
    first, second = payload_matches(created), payload_matches(regraded)
    assert isinstance(second, CustomerTierChanged)
    assert (first.old_tier, first.new_tier) == (None, "B")
    assert (second.old_tier, second.new_tier, second.account_manager_id) == ("B", "A", am)
    await _stays(changes, 2)


async def _count(fetch, n):
    return len(await fetch()) == n


async def _stays(fetch, n):
    assert len(await fetch()) == n


async def test_only_an_admin_reassigns_a_customer(crm, am):
    c = await crm.customer(am)
    r = await crm.http.patch(f"/api/v1/customers/{c['id']}", headers=auth(am, "account_manager"),
                             json={"account_manager_id": "am_thief"})
    assert_problem(r, 403, "account_manager_id")
    order = await crm.order(am, c["id"])
    r = await crm.http.patch(f"/api/v1/customers/{c['id']}", headers=ADMIN, json={"account_manager_id": am + "_2"})
    assert r.status_code == 200 and r.json()["account_manager_id"] == am + "_2"
    # the work follows the customer
    assert (await crm.http.get(f"/api/v1/orders/{order['id']}", headers=auth(am, "account_manager"))).status_code == 404
    r = await crm.http.get(f"/api/v1/orders/{order['id']}", headers=auth(am + "_2", "account_manager"))
    assert r.status_code == 200


async def test_search_filters_and_cursor_pagination(crm, am):
    made = [await crm.customer(am, name=f"分页客户{i}") for i in range(5)]
    await crm.customer(am, name="另一家", industry="retail", factors={**FACTORS_B, "employees": 10,
                                                                    "handset_share": 0.1, "influence": 1})
    me = auth(am, "account_manager")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, "q": "分页客户", "sort": "-created_at", **({"cursor": cursor} if cursor else {})}
        r = await crm.http.get("/api/v1/customers", params=params, headers=me)
        assert r.status_code == 200, r.text
        page = r.json()
        seen += [c["id"] for c in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and seen == [c["id"] for c in reversed(made)]
    r = await crm.http.get("/api/v1/customers", params={"sort": "name", "limit": 10, "tier": "C"}, headers=me)
    assert [c["name"] for c in r.json()["items"]] == ["另一家"]
    r = await crm.http.get("/api/v1/customers", params={"q": made[0]["uscc"][:12]}, headers=me)
    assert made[0]["id"] in [c["id"] for c in r.json()["items"]]
    r = await crm.http.get("/api/v1/customers", params={"created_from": "2000-01-01T00:00:00",
                                                         "created_to": "2000-12-31T00:00:00"}, headers=me)
    assert r.json()["items"] == []
    assert_problem(await crm.http.get("/api/v1/customers", params={"sort": "uscc"}, headers=me), 422, "sort")
    assert_problem(await crm.http.get("/api/v1/customers", params={"cursor": "nope"}, headers=me), 422, "cursor")
    r = await crm.http.get("/api/v1/customers", params={"limit": 2, "sort": "-created_at", "q": "分页客户"}, headers=me)
    other_sort = {"cursor": r.json()["next_cursor"], "sort": "name"}
    assert_problem(await crm.http.get("/api/v1/customers", params=other_sort, headers=me), 422, "cursor")


async def test_key_persons_are_masked_except_on_the_owners_single_get(crm, am, caplog):
    c = await crm.customer(am)
    me = auth(am, "account_manager")
    base = f"/api/v1/customers/{c['id']}/key-persons"
    with caplog.at_level(logging.INFO):
        r = await crm.http.post(base, headers=me, json={
            "kind": "decision_maker", "name": "张总", "title": "总经理", "phone": "+86 138-1234-5678",
            "email": "zhang.zong@example.cn"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["phone"], created["email"], created["masked"]) == ("138****5678", "z***@example.cn", True)
    assert "13812345678" not in caplog.text and "zhang.zong@" not in caplog.text
    for kind, phone in [("daily_contact", "022-2570 1234"), ("middle_manager", None), ("influencer", None)]:
        assert (await crm.http.post(base, headers=me, json={"kind": kind, "name": kind, "phone": phone})).status_code \
            == 201
    listed = (await crm.http.get(base, headers=me)).json()["items"]
    assert {p["kind"] for p in listed} == {"decision_maker", "daily_contact", "middle_manager", "influencer"}
    assert all(p["masked"] for p in listed)
    assert {p["phone"] for p in listed if p["phone"]} == {"138****5678", "022-****1234"}
    one = f"{base}/{created['id']}"
    for headers in (me, ADMIN):
        full = (await crm.http.get(one, headers=headers)).json()
        assert (full["phone"], full["email"], full["masked"]) == ("13812345678", "zhang.zong@example.cn", False)
    masked = (await crm.http.get(one, headers=auth("sup", "supervisor"))).json()
    assert masked["phone"] == "138****5678" and masked["masked"]
    assert (await crm.http.get(one, headers=auth("am_other", "account_manager"))).status_code == 404
    r = await crm.http.patch(one, headers=me, json={"phone": "12345"})
    assert_problem(r, 422, "phone")
    r = await crm.http.post(base, headers=me, json={"kind": "decision_maker", "name": "x", "email": "not-an-email"})
    assert_problem(r, 422, "email")
    r = await crm.http.post(base, headers=me, json={"kind": "boss", "name": "x"})
    assert_problem(r, 422, "kind")
    assert (await crm.http.delete(one, headers=me)).status_code == 204
    assert (await crm.http.get(one, headers=me)).status_code == 404


async def test_demo_customers_have_valid_usccs(crm):
    r = await crm.http.get("/api/v1/customers", params={"manager": "am_zhang", "limit": 50}, headers=ADMIN)
    demo = {c["id"]: c for c in r.json()["items"]}
    assert {"cus_tj_port", "cus_tj_bank", "cus_tj_mfg"} <= set(demo)
    assert demo["cus_tj_port"]["uscc"] == complete_uscc("9112000010306400")
    assert demo["cus_tj_bank"]["tier"] == "A" and demo["cus_tj_bank"]["tiering"]["forced"]
