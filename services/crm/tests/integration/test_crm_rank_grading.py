"""Rank-based grading on the real PostgreSQL and Kafka: a CRM configured with `grading.method: rank`
(TIERING_FILE), on a database of its own so that "all customers" are this test's. Customers are placed by
rank when registered; the re-grading run (POST /api/v1/admin/tiering/regrade) grades everyone by rank and
emits `crm.customer.tier_changed` on crm.customers, through the outbox, for each customer whose tier changed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import yaml
from crm_testkit import auth, new_uscc, payload_matches
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from backbone.events import CustomerTierChanged
from backbone.migrations import upgrade_head
from backbone.topics import CRM_CUSTOMERS
from crm.domain.config import read_data_file
from crm.main import build_app
from crm.settings import CrmSettings
from devtools.infra import Infra
from tests.support.kafka_tools import eventually, read_events

pytestmark = pytest.mark.asyncio(loop_scope="session")

ROOT = Path(__file__).resolve().parents[4]
RUN = uuid.uuid4().hex[:8]
ADMIN = auth("root", "admin")


def factors(level: int) -> dict[str, Any]:
    """Factors whose score grows with ``level`` (0..9)."""
    return {"employees": 100 + 400 * level, "handset_share": round(0.1 + 0.09 * level, 2),
            "informatization_level": 1 + level // 3, "unified_payment": "partial", "influence": 1 + level // 3}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ranked_crm(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[httpx.AsyncClient]:
    base, _, _ = infra.database_url.rpartition("/")
    dbname = f"crm_rank_{RUN}"
    engine = create_async_engine(infra.database_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{dbname}"'))
    database_url = f"{base}/{dbname}"
    await asyncio.to_thread(upgrade_head, ROOT / "services" / "crm", database_url)
    config = read_data_file("tiering.yaml")
    config["grading"] = {"method": "rank", "rank_shares": {"A": 10, "B": 30}}
    tiering_file = tmp_path_factory.mktemp("crm-rank") / "tiering.yaml"
    tiering_file.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    settings = CrmSettings(
        environment="test", database_url=database_url, kafka_bootstrap_servers=infra.kafka_bootstrap,
        consumer_group=f"crm-rank-{RUN}", consumer_backoff_initial_s=0.05, db_pool_size=3,
        tiering_file=str(tiering_file),
    )
    app = build_app(settings)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://crm.test", timeout=30) as http:
                yield http
    finally:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        await engine.dispose()


async def register(http: httpx.AsyncClient, level: int, industry: str = "manufacturing") -> dict[str, Any]:
    r = await http.post("/api/v1/customers", headers=ADMIN, json={
        "name": f"排名客户{level}-{uuid.uuid4().hex[:4]}", "uscc": new_uscc(), "industry": industry,
        "region": "天津-滨海新区", "account_manager_id": f"am_rank_{RUN}", "factors": factors(level)})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def tier_events(infra: Infra, customer_id: str) -> list[Any]:
    return await read_events(infra.kafka_bootstrap, CRM_CUSTOMERS, subject=customer_id,
                             types={"crm.customer.tier_changed"})


async def test_rank_grading_places_new_customers_and_the_run_regrades_everyone_with_events(
        infra: Infra, ranked_crm: httpx.AsyncClient) -> None:
    http = ranked_crm
    # Registered from the worst score to the best: each is placed by its rank among those there so far.
    made = [await register(http, level) for level in range(9)]
    bank = await register(http, 0, industry="finance")  # a key customer: A whatever its rank
    assert [c["tiering"]["method"] for c in made] == ["rank"] * 9
    assert made[0]["tiering"]["rank"] == 1 and made[0]["tier"] == "C"  # alone: 1 × 10% rounds to no A
    assert made[8]["tiering"]["rank"] == 1 and made[8]["tiering"]["ranked_of"] == 9
    assert bank["tier"] == "A" and bank["tiering"]["forced"]
    scores = {c["id"]: c["tiering"]["score"] for c in [*made, bank]}
    assert len(set(scores.values())) == 9  # the bank ties with made[0]: the smaller (older) id ranks first

    r = await http.get("/api/v1/admin/tiering", headers=auth("sup", "supervisor"))
    assert r.status_code == 200, r.text
    before = r.json()
    assert before["grading"] == {"method": "rank", "rank_shares": {"A": 10, "B": 30},
                                 "thresholds": {"A": 70, "B": 40}}
    assert sum(before["customers_per_tier"].values()) == 10

    # A dry run says what would change and writes nothing.
    events_before = {cid: len(await tier_events(infra, cid)) for cid in scores}
    dry = await http.post("/api/v1/admin/tiering/regrade", headers=ADMIN, json={"dry_run": True})
    assert dry.status_code == 200, dry.text
    preview = dry.json()
    assert preview["dry_run"] and preview["graded"] == 10 and preview["skipped"] == []
    # 10 customers: 1 A by rank (the best score) + the key bank, 3 B, 5 C (the bank's rank counts as a C).
    assert preview["customers_per_tier"] == {"A": 2, "B": 3, "C": 5}
    unchanged = (await http.get(f"/api/v1/customers/{made[8]['id']}", headers=ADMIN)).json()
    assert unchanged["tiering"] == made[8]["tiering"]

    run = await http.post("/api/v1/admin/tiering/regrade", headers={**ADMIN, "Idempotency-Key": f"rg-{RUN}"})
    assert run.status_code == 200, run.text
    report = run.json()
    assert not report["dry_run"] and report["changed"] == preview["changed"]
    assert report["customers_per_tier"] == {"A": 2, "B": 3, "C": 5}
    changed = {c["customer_id"]: c for c in report["changed"]}
    registered_tier = {c["id"]: c["tier"] for c in [*made, bank]}
    assert changed, "registration placed customers by the ranks of their time: the run moves some"
    expected = {made[8]["id"]: "A", **{made[i]["id"]: "B" for i in (5, 6, 7)},
                **{made[i]["id"]: "C" for i in range(5)}, bank["id"]: "A"}
    for cid, tier in expected.items():
        customer = (await http.get(f"/api/v1/customers/{cid}", headers=ADMIN)).json()
        assert customer["tier"] == tier, (cid, customer["tiering"]["explanation"])
        assert customer["tiering"]["ranked_of"] == 10
        if cid in changed:
            assert (changed[cid]["old_tier"], changed[cid]["new_tier"]) == (registered_tier[cid], tier)

    # One crm.customer.tier_changed per customer whose tier changed, on crm.customers (keyed by the customer).
    for cid in scores:
        want = events_before[cid] + (1 if cid in changed else 0)

        async def arrived(cid: str = cid, want: int = want) -> list[Any] | None:
            events = await tier_events(infra, cid)
            return events if len(events) >= want else None

        events = await eventually(arrived, what=f"tier_changed events of {cid}")
        assert len(events) == want, cid
        if cid in changed:
            event = payload_matches(events[-1])
            assert isinstance(event, CustomerTierChanged)
            assert (event.old_tier, event.new_tier) == (changed[cid]["old_tier"], changed[cid]["new_tier"])
            assert event.score == scores[cid] and event.account_manager_id == f"am_rank_{RUN}"

    # The same key replays the answer; a second run changes nothing and emits nothing.
    replay = await http.post("/api/v1/admin/tiering/regrade", headers={**ADMIN, "Idempotency-Key": f"rg-{RUN}"})
    assert replay.json() == report and replay.headers.get("idempotent-replayed") == "true"
    again = await http.post("/api/v1/admin/tiering/regrade", headers=ADMIN)
    assert again.status_code == 200 and again.json()["changed"] == []
    await asyncio.sleep(1)
    for cid in scores:
        assert len(await tier_events(infra, cid)) == events_before[cid] + (1 if cid in changed else 0)


async def test_other_shares_are_tried_in_a_dry_run_only_and_only_an_admin_regrades(
        ranked_crm: httpx.AsyncClient) -> None:
    http = ranked_crm
    try_half = {"dry_run": True, "rank_shares": {"A": 50, "B": 30}}
    r = await http.post("/api/v1/admin/tiering/regrade", headers=ADMIN, json=try_half)
    assert r.status_code == 200, r.text
    total = r.json()["graded"]
    assert r.json()["grading"]["rank_shares"] == {"A": 50, "B": 30}
    assert r.json()["customers_per_tier"]["A"] >= total // 2

    r = await http.post("/api/v1/admin/tiering/regrade", headers=ADMIN, json={**try_half, "dry_run": False})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "dry_run"
    r = await http.post("/api/v1/admin/tiering/regrade", headers=ADMIN,
                        json={"dry_run": True, "rank_shares": {"A": 80, "B": 30}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("rank_shares")

    for role in ("supervisor", "account_manager", "network_staff"):
        assert (await http.post("/api/v1/admin/tiering/regrade", headers=auth("x", role))).status_code == 403
    assert (await http.get("/api/v1/admin/tiering", headers=auth("x", "account_manager"))).status_code == 403
    assert (await http.post("/api/v1/admin/tiering/regrade")).status_code == 401
    spec = (await http.get("/openapi.json")).json()
    assert "/api/v1/admin/tiering/regrade" in spec["paths"]
    assert "crm.customer.tier_changed" in spec["paths"]["/api/v1/admin/tiering/regrade"]["post"]["summary"]
