"""Authorization on every route of the suite's services (docs/security.md, item 2): the four of issue 14
and the stats service.

The matrix is generated from each service's OpenAPI document: every operation declares its rule in
`x-authz` (`backbone.authz`), and every operation is called by every kind of caller:

    anonymous (no token), a valid token with no suite role, every token role of the seed
    (backbone.vocabulary.TokenRole: account_manager, agent, complaint_desk, dispatcher, the network roles,
    partner_si, supervisor, department_head, admin), a partner user (partner_si with the `partner` claim,
    like Keycloak's partner_hw) and a partner user of another company

Expected, from the rule alone: outside it 403 (401 without a token; every bearer caller 401 on a
signed route); inside it an answer of the route (2xx, or 404/409/422 for the made-up ids and empty
bodies sent here; 403 only where the rule declares `checks`). A 401/403/404 is problem+json carrying no
data. An operation without a rule fails `test_every_operation_declares_a_rule` (no infrastructure
needed), so a new route without one does not pass the build.

Object level (another's object answers 404, never 403 or data) is proved with real rows in
`test_another_ones_objects_answer_404` (EOMS tickets on both faces and the node actions, another
partner's ticket, notify deliveries) and in services/crm/tests/integration/test_crm_rbac.py (customers,
key persons, opportunities, orders, complaints, both TMF faces).

The services run in-process against a database of their own (`groupsuite_rbac`, migrated afresh each
session), as the fuzz test does.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from backbone.auth import issue_token
from backbone.authz import OPENAPI_MEMBER
from backbone.settings import DEV_JWT_SECRET
from backbone.vocabulary import TOKEN_ROLES
from tests.security.conftest import migrated_database

RBAC_DB = "groupsuite_rbac"
#: What may answer without a token: probes, metrics, the dev token issuer (local/test only) and how a
#: front end signs in. A route added here is a decision, not an accident.
PUBLIC_PATHS = {"/healthz", "/readyz", "/metrics", "/api/v1/dev/token", "/api/v1/auth/config"}
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance", "errors", "code"}


@dataclass(frozen=True)
class Caller:
    name: str
    roles: tuple[str, ...] = ()
    partner: str | None = None
    anonymous: bool = False

    def headers(self) -> dict[str, str]:
        if self.anonymous:
            return {}
        token = issue_token(f"rbac_{self.name}", list(self.roles), secret=DEV_JWT_SECRET, partner=self.partner)
        return {"Authorization": f"Bearer {token}"}


CALLERS = (
    Caller("anonymous", anonymous=True),
    Caller("no_suite_role", ("auditor",)),  # a valid token whose roles the suite does not know
    *(Caller(role, (role,)) for role in TOKEN_ROLES),
    Caller("partner", ("partner_si",), partner="huawei"),
    Caller("partner_of_another_company", ("partner_si",), partner="zte"),
)


def documents() -> dict[str, dict[str, Any]]:
    """The OpenAPI documents of the five services as they are built in test (dev routers mounted)."""
    from crm.main import build_app as crm_app
    from crm.settings import CrmSettings
    from eoms_bridge.main import build_app as eoms_app
    from eoms_bridge.settings import EomsSettings
    from notify.main import build_app as notify_app
    from notify.settings import NotifySettings
    from sla.main import build_app as sla_app
    from sla.settings import SlaSettings
    from stats.main import build_app as stats_app
    from stats.settings import StatsSettings

    builders: dict[str, tuple[Callable[..., FastAPI], type[Any]]] = {
        "crm": (crm_app, CrmSettings), "eoms-bridge": (eoms_app, EomsSettings),
        "sla": (sla_app, SlaSettings), "notify": (notify_app, NotifySettings), "stats": (stats_app, StatsSettings)}
    return {name: build(settings(environment="test", log_level="CRITICAL")).openapi()
            for name, (build, settings) in builders.items()}


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in doc["paths"].items() for method, op in ops.items()
            if method in ("get", "post", "put", "patch", "delete")]


def test_every_operation_declares_a_rule() -> None:
    """The build fails on a route without an authorization rule (backbone.authz)."""
    missing = [f"{svc}: {m} {p}" for svc, doc in documents().items() for m, p, op in operations(doc)
               if OPENAPI_MEMBER not in op]
    assert not missing, "operations without an authorization rule (backbone.authz):\n" + "\n".join(missing)
    for svc, doc in documents().items():
        for m, p, op in operations(doc):
            rule = op[OPENAPI_MEMBER]
            assert rule["access"] in ("public", "authenticated", "roles", "signed"), (svc, m, p)
            if rule["access"] == "roles":
                assert rule["roles"] and set(rule["roles"]) <= set(TOKEN_ROLES), (svc, m, p)
            else:
                assert rule.get("reason"), f"{svc}: {m} {p} is {rule['access']} without saying why"
    public = {p for doc in documents().values() for m, p, op in operations(doc)
              if op[OPENAPI_MEMBER]["access"] == "public"}
    assert {"/healthz", "/readyz", "/metrics"} <= public and public <= PUBLIC_PATHS, sorted(public - PUBLIC_PATHS)


# ----------------------------------------------------------------------------------------------------
# The matrix, on running apps


@pytest.fixture(scope="session")
def rbac_database(infra: Any) -> str:
    return migrated_database(infra.database_url, RBAC_DB)


def stats_app(database_url: str) -> tuple[FastAPI, AsyncEngine]:
    """The stats service, built as tests/security/conftest.py builds the four others (bootstrapped, not
    started: no consumer, relay or report scheduler)."""
    from stats import bootstrap as stats_bootstrap
    from stats.main import build_app
    from stats.settings import StatsSettings

    settings = StatsSettings(environment="test", database_url=database_url, run_relay=False, run_consumers=False,
                             run_retention=False, run_report_scheduler=False, log_level="WARNING")
    app = build_app(settings)
    runtime = app.state.runtime = stats_bootstrap.bootstrap(settings)
    engine = create_async_engine(database_url, poolclass=NullPool, hide_parameters=True, connect_args={
        "server_settings": {"search_path": f"{runtime.infra.metadata.schema},public"}})
    runtime.session_factory.configure(bind=engine)
    return app, engine


@pytest_asyncio.fixture(scope="session")
async def rbac_apps(rbac_database: str, service_apps: Any) -> AsyncIterator[dict[str, FastAPI]]:
    apps: dict[str, FastAPI] = service_apps(rbac_database)
    stats, engine = stats_app(rbac_database)
    yield {**apps, "stats": stats}
    await stats.state.runtime.infra.engine.dispose()
    await engine.dispose()


def _sample(schema: dict[str, Any], doc: dict[str, Any]) -> Any:
    """A plausible value of a parameter's schema (the rule decides before the value matters)."""
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return _sample(options[0], doc) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return 1
    if kind == "boolean":
        return False
    if kind == "array":
        return [_sample(schema.get("items", {}), doc)]
    if schema.get("format") == "date-time":
        return "2026-01-01T00:00:00Z"
    return "rbac_missing"


#: Query values that keep an admitted caller's answer finite (the SSE stream refuses an unknown cursor).
QUERY_OVERRIDES = {"/api/v1/stream": {"after": "not-a-cursor"}}


def request_of(path: str, op: dict[str, Any], doc: dict[str, Any]) -> tuple[str, dict[str, Any], Any]:
    url, query = path, dict(QUERY_OVERRIDES.get(path, {}))
    for p in op.get("parameters", []):
        if p["in"] == "path":
            url = url.replace("{" + p["name"] + "}", str(_sample(p["schema"], doc)))
        elif p["in"] == "query" and p.get("required") and p["name"] not in query:
            query[p["name"]] = _sample(p["schema"], doc)
    body = {} if "requestBody" in op else None
    return url, query, body


def expected(rule: dict[str, Any], caller: Caller) -> str:
    """'401', '403', 'admitted' (an answer of the route) or 'public'."""
    access = rule["access"]
    if access == "public":
        return "public"
    if caller.anonymous or access == "signed":
        return "401"
    if access == "authenticated":
        return "admitted"
    if caller.partner is not None and not rule.get("partners"):
        return "403"
    return "admitted" if set(caller.roles) & set(rule["roles"]) else "403"


#: A TM Forum face (/tmf-api) answers the TMF630 Error instead of a problem (backbone.tmf).
TMF_ERROR_MEMBERS = {"code", "reason", "message", "status", "referenceError", "@type"}


def assert_no_data(r: httpx.Response, where: str) -> None:
    tmf = r.request.url.path.startswith("/tmf-api/")
    media = "application/json" if tmf else "application/problem+json"
    assert r.headers["content-type"].startswith(media), (where, r.text[:200])
    body = r.json()
    assert isinstance(body, dict) and set(body) <= (TMF_ERROR_MEMBERS if tmf else PROBLEM_MEMBERS), (where, body)


async def test_rbac_matrix(rbac_apps: dict[str, FastAPI]) -> None:
    """Every operation of the five services × every kind of caller: the rule decides, never data leaks."""
    docs = documents()
    failures: list[str] = []
    cells: Counter[str] = Counter()
    for svc, doc in docs.items():
        app = rbac_apps[svc]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as http:
            for method, path, op in operations(doc):
                rule = op.get(OPENAPI_MEMBER)
                if rule is None:
                    failures.append(f"{svc}: {method} {path}: no rule")
                    continue
                url, query, body = request_of(path, op, doc)
                for caller in CALLERS:
                    want = expected(rule, caller)
                    headers = {**caller.headers(), "Idempotency-Key": f"rbac-{svc}-{method}-{path}-{caller.name}"}
                    if body is not None:
                        headers["content-type"] = "application/json"
                    r = await asyncio.wait_for(http.request(
                        method, url, params=query, headers=headers,
                        content=None if body is None else json.dumps(body)), timeout=30)
                    where = f"{svc}: {method} {path} as {caller.name}: {r.status_code} (expected {want})"
                    cells[want] += 1
                    if want in ("401", "403"):
                        ok = r.status_code == int(want)
                    elif want == "public":
                        ok = r.status_code not in (401, 403)
                    else:
                        # (a TM Forum face answers a bad request 400, as its specifications say, not 422)
                        ok = r.status_code in (200, 201, 204, 404, 409, 422) or (
                            r.status_code == 403 and "checks" in rule) or (
                            r.status_code == 400 and path.startswith("/tmf-api/"))
                    if not ok:
                        failures.append(f"{where}: {r.text[:160]}")
                    if r.status_code in (401, 403, 404):
                        try:
                            assert_no_data(r, where)
                        except AssertionError as exc:
                            failures.append(f"{where}: carries data: {exc}")
    total = sum(len([o for o in operations(doc) if OPENAPI_MEMBER in o[2]]) for doc in docs.values())
    print(f"RBAC matrix: {total} operations x {len(CALLERS)} callers = {sum(cells.values())} cells {dict(cells)}")
    assert sum(cells.values()) == total * len(CALLERS)
    assert not failures, f"{len(failures)} cells disagree with the declared rules:\n" + "\n".join(failures)


# ----------------------------------------------------------------------------------------------------
# Another's object: 404


async def test_another_ones_objects_answer_404(rbac_apps: dict[str, FastAPI]) -> None:
    from backbone.events import OrderItem, OrderSubmitted
    from backbone.ids import new_id
    from eoms_bridge.models import tickets
    from eoms_bridge.services import tickets as ticket_service
    from notify.models import deliveries

    owner, other = Caller("am_owner", ("account_manager",)), Caller("am_other", ("account_manager",))
    partner, colleague = Caller("partner", ("partner_si",), "huawei"), Caller("partner2", ("partner_si",), "huawei")
    rival = Caller("rival", ("partner_si",), "zte")  # a partner user of another company
    nobody = Caller("nobody", ())
    eoms = rbac_apps["eoms-bridge"].state.runtime
    await eoms.context.store.sync(eoms.session_factory)  # what the bridge does at start (not started here)
    order = OrderSubmitted(
        order_id=new_id("ord"), channel="account_manager", submitted_at=datetime.now(UTC), customer_id="cus_rbac",
        customer_name="RBAC 客户", customer_tier="B", account_manager_id="rbac_am_owner",
        items=[OrderItem(item_id=new_id("itm"), product="dedicated_line_data", business_kind="opening",
                         business_type="dedicated_line_data.opening", attributes={"bandwidth_mbps": 100})])
    async with eoms.session_factory() as s, s.begin():
        (tid,) = await ticket_service.open_tickets_for_order(s, store=eoms.context.store, order=order,
                                                             now=datetime.now(UTC), forward=False)
        # A partner's task: its current node is huawei's (as the organisation assigns a partner_si node).
        (pid,) = await ticket_service.open_tickets_for_order(
            s, store=eoms.context.store, order=order.model_copy(update={"order_id": new_id("ord")}),
            now=datetime.now(UTC), forward=False)
        await s.execute(tickets.update().where(tickets.c.id == pid).values(partner="huawei", current_role="partner_si"))

    async def status(app: str, method: str, path: str, caller: Caller, **kw: Any) -> int:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=rbac_apps[app]), base_url="http://s") as h:
            r = await h.request(method, path, headers=caller.headers(), **kw)
        if r.status_code in (403, 404):
            assert_no_data(r, f"{method} {path} as {caller.name}")
            assert "rbac_am_owner" not in r.text and "cus_rbac" not in r.text  # names only the id it was asked
        return r.status_code

    ticket, tmf = f"/api/v1/tickets/{tid}", f"/tmf-api/troubleTicket/v4/troubleTicket/{tid}"
    accept = f"/api/v1/tickets/{tid}/actions/accept"
    assert await status("eoms-bridge", "GET", ticket, owner) == 200
    assert await status("eoms-bridge", "GET", tmf, owner) == 200
    for caller in (other, partner):
        assert await status("eoms-bridge", "GET", ticket, caller) == 404, caller  # was 403: existence leaked
        assert await status("eoms-bridge", "POST", accept, caller, json={}) == 404, caller
    assert await status("eoms-bridge", "GET", tmf, other) == 404
    assert await status("eoms-bridge", "GET", tmf, partner) == 403  # TMF621 is not opened to partners
    for path in (ticket, tmf, "/api/v1/tickets", "/tmf-api/troubleTicket/v4/troubleTicket"):
        assert await status("eoms-bridge", "GET", path, nobody) == 403, path  # used to read every ticket
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=rbac_apps["eoms-bridge"]), base_url="http://s") as h:
        listed = (await h.get("/api/v1/tickets", headers=other.headers(), params={"limit": 200})).json()["items"]
        assert all(t["account_manager_id"] != "rbac_am_owner" for t in listed)
        mine = (await h.get("/api/v1/tickets", headers=partner.headers(), params={"limit": 200})).json()["items"]
        assert pid in [t["id"] for t in mine] and all(t["partner"] == "huawei" for t in mine), (
            "a partner user lists its partner's tasks only")
        queue = (await h.get("/api/v1/queues/partner_si", headers=partner.headers())).json()
        assert pid in [t["ticket_id"] for t in queue["items"]] and all(t["partner"] == "huawei" for t in queue["items"])
        theirs = (await h.get("/api/v1/queues/partner_si", headers=rival.headers(), params={"limit": 200})).json()
        assert pid not in [t["ticket_id"] for t in theirs["items"]]
        assert (await h.get("/api/v1/queues/network_resource", headers=partner.headers())).status_code == 403
    assert await status("eoms-bridge", "GET", f"/api/v1/tickets/{pid}", partner) == 200
    assert await status("eoms-bridge", "GET", f"/api/v1/tickets/{pid}", colleague) == 200  # the same partner
    assert await status("eoms-bridge", "GET", f"/api/v1/tickets/{pid}", rival) == 404  # another partner's: 404
    assert await status("eoms-bridge", "POST", f"/api/v1/tickets/{pid}/actions/accept", rival, json={}) == 404

    notify = rbac_apps["notify"].state.runtime
    did = new_id("dlv")
    async with notify.session_factory() as s, s.begin():
        await s.execute(deliveries.insert().values(
            id=did, source_event_id=new_id("evt"), source_event_type="sla.breached", ticket_id=tid,
            recipient_id="rbac_am_owner", channel="sms", address="13900001111", body="x", status="sent"))
    assert await status("notify", "GET", f"/api/v1/deliveries/{did}", owner) == 200
    assert await status("notify", "GET", f"/api/v1/deliveries/{did}", other) == 404
    assert await status("notify", "GET", f"/api/v1/deliveries/{did}", partner) == 403
    for path in ("/api/v1/directory/people", "/api/v1/deliveries"):
        assert await status("notify", "GET", path, nobody) == 403, path  # the directory used to answer anyone
