"""backbone.authz: one declared rule per route, recorded in the OpenAPI document and decided first
(docs/security.md, item 2). The RBAC matrix of the four real services is tests/security/test_security_rbac.py."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header

from backbone.auth import PARTNER_CLAIM, Principal, TokenVerifier, issue_token, principal_from_claims
from backbone.authz import OPENAPI_MEMBER, authenticated, authorize, public, rule_of, stamp_rules
from backbone.problems import Problem, install_problem_handlers
from backbone.settings import DEV_JWT_SECRET
from backbone.shapes import ClosedModel

ADMIN_ONLY = authorize("admin")
ReaderDep = Annotated[Principal, authorize("supervisor", "admin", scope="every ticket")]
PartnerReaderDep = Annotated[Principal, authorize("network_staff", partners=True, scope="own tasks")]
calls: list[str] = []


def counted() -> str:
    calls.append("session")  # stands for a session opened, an Idempotency-Key looked up...
    return "s"


class Body(ClosedModel):
    name: str


def build() -> FastAPI:
    router = APIRouter(prefix="/api")

    @router.post("/things")
    async def create(body: Body, s: Annotated[str, Depends(counted)], principal: ReaderDep) -> dict[str, str]:
        return {"by": principal.subject}

    @router.get("/tasks")
    async def tasks(principal: PartnerReaderDep) -> dict[str, Any]:
        return {"partner": principal.partner}

    @router.get("/health", dependencies=[public("probe")])
    async def health() -> dict[str, str]:
        return {"ok": "yes"}

    @router.get("/me")
    async def me(principal: Annotated[Principal, authenticated("the caller's own claims")]) -> dict[str, Any]:
        return {"sub": principal.subject, "roles": sorted(principal.roles)}

    @router.delete("/things", dependencies=[ADMIN_ONLY])
    async def purge() -> dict[str, str]:
        return {"purged": "yes"}

    @router.get("/forgotten")
    async def forgotten(x: Annotated[str | None, Header()] = None) -> dict[str, str]:
        return {}

    app = FastAPI()
    install_problem_handlers(app)
    app.state.token_verifier = TokenVerifier(audience="crm", dev_secret=DEV_JWT_SECRET)
    missing = stamp_rules(router.routes)
    assert [r.path for r in missing] == ["/api/forgotten"]
    assert stamp_rules(router.routes) == missing, "idempotent"
    app.include_router(router)
    return app


def call(app: FastAPI, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            return await c.request(method, path, headers=headers, **kw)

    return asyncio.run(go())


def token(*roles: str, partner: str | None = None, sub: str = "u1") -> str:
    return issue_token(sub, list(roles), secret=DEV_JWT_SECRET, partner=partner)


def test_each_route_records_its_rule_in_the_openapi_document() -> None:
    doc = build().openapi()["paths"]
    assert doc["/api/things"]["post"][OPENAPI_MEMBER] == {
        "access": "roles", "roles": ["supervisor", "admin"], "partners": False, "scope": "every ticket"}
    assert doc["/api/tasks"]["get"][OPENAPI_MEMBER]["partners"] is True
    assert doc["/api/health"]["get"][OPENAPI_MEMBER] == {"access": "public", "reason": "probe"}
    assert doc["/api/me"]["get"][OPENAPI_MEMBER]["access"] == "authenticated"
    assert doc["/api/things"]["delete"][OPENAPI_MEMBER]["roles"] == ["admin"]
    assert OPENAPI_MEMBER not in doc["/api/forgotten"]["get"]
    # The Authorization header is documented once, though the rule is also the route's first dependency.
    assert [p["name"] for p in doc["/api/things"]["post"]["parameters"]] == ["authorization"]


def test_the_rule_is_decided_before_anything_else() -> None:
    app = build()
    calls.clear()
    # Outside the rule: 403 although the body is invalid, and nothing else was resolved.
    r = call(app, "POST", "/api/things", token("network_staff"), json={"nope": 1})
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    assert calls == []
    assert call(app, "POST", "/api/things", None, json={"nope": 1}).status_code == 401
    assert calls == []
    r = call(app, "POST", "/api/things", token("admin"), json={"nope": 1})
    assert r.status_code == 422 and calls == ["session"]
    r = call(app, "POST", "/api/things", token("supervisor", sub="sup_1"), json={"name": "x"})
    assert r.status_code == 200 and r.json() == {"by": "sup_1"}


def test_a_token_with_no_suite_role_reads_nothing_but_itself() -> None:
    app = build()
    nobody = token()  # valid, but no role of the suite (unknown roles are dropped)
    assert call(app, "POST", "/api/things", nobody, json={"name": "x"}).status_code == 403
    assert call(app, "GET", "/api/tasks", issue_token("u", ["auditor"], secret=DEV_JWT_SECRET)).status_code == 403
    assert call(app, "DELETE", "/api/things", nobody).status_code == 403
    r = call(app, "GET", "/api/me", nobody)
    assert r.status_code == 200 and r.json() == {"sub": "u1", "roles": []}
    assert call(app, "GET", "/api/me", None).status_code == 401
    assert call(app, "GET", "/api/health", None).status_code == 200


def test_a_partner_user_reaches_only_what_is_opened_to_partners() -> None:
    app = build()
    partner = token("network_staff", "admin", partner="huawei")  # whatever roles the token holds
    assert call(app, "DELETE", "/api/things", partner).status_code == 403
    assert call(app, "POST", "/api/things", partner, json={"name": "x"}).status_code == 403
    r = call(app, "GET", "/api/tasks", partner)
    assert r.status_code == 200 and r.json() == {"partner": "huawei"}
    assert call(app, "GET", "/api/tasks", token("supervisor", partner="huawei")).status_code == 403


def test_the_partner_claim() -> None:
    base = {"sub": "partner_hw", "roles": ["network_staff"]}
    assert principal_from_claims({**base, PARTNER_CLAIM: "huawei"}).partner == "huawei"
    assert principal_from_claims(base).partner is None
    for bad in ("", " ", 7, ["huawei"], "x" * 61, "hua\nwei"):
        with pytest.raises(Problem) as exc:
            principal_from_claims({**base, PARTNER_CLAIM: bad})
        assert exc.value.status == 401


def test_rules_are_declared_with_the_suite_roles_only_and_once() -> None:
    with pytest.raises(ValueError, match="token roles"):
        authorize("root")
    with pytest.raises(ValueError, match="token roles"):
        authorize()
    router = APIRouter()

    @router.get("/x", dependencies=[public("probe")])
    async def x(p: ReaderDep) -> None:
        return None

    with pytest.raises(ValueError, match="2 authorization rules"):
        rule_of(router.routes[0])  # type: ignore[arg-type]
