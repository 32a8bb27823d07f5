"""Real identity (docs/security.md, item 1): the four services verify tokens of a real Keycloak.

Keycloak (devtools/keycloak.py) runs with the committed realm; tokens come by the standard flows
(password grant for the test users, client credentials for a service account). The services run
in-process with OIDC_ISSUER set and the HS256 dev issuer switched off, as outside local/test.

To prove that the claim checks (not only the signature) reject a token, a key of ours is added to the
realm: Keycloak publishes it in its JWKS, so a token we sign with it has a trusted signature and
stands or falls by its claims (no `exp`, expired, another audience or issuer, no subject...).
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from jwt.algorithms import RSAAlgorithm
from sqlalchemy.ext.asyncio import create_async_engine

from backbone.auth import SUBJECT_MAX_LENGTH, issue_token
from backbone.settings import DEV_JWT_SECRET
from devtools.keycloak import CRM_ONLY_CLIENT, FAULT_MANAGEMENT_CLIENT

# A read every role below may make, one per service.
ENDPOINTS = {
    "crm": "/api/v1/customers",
    "eoms-bridge": "/api/v1/tickets",
    "sla": "/api/v1/timers?ticket_id=tkt_none",
    "notify": "/api/v1/deliveries",
    "stats": "/api/v1/stats/orders",
}


@pytest_asyncio.fixture(scope="module")
async def oidc_apps(infra: Any, keycloak: Any, service_apps: Any) -> dict[str, FastAPI]:
    apps: dict[str, FastAPI] = service_apps(
        infra.database_url, names=tuple(ENDPOINTS), oidc_issuer=keycloak.issuer, oidc_jwks_min_refresh_s=0,
        oidc_leeway_s=0,
    )
    for app in apps.values():
        app.state.token_verifier.dev_secret = None  # as outside local/test: the dev issuer is off
    return apps


async def call(app: FastAPI, path: str, token: str | None, **headers: str) -> httpx.Response:
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        return await client.get(path, headers={**auth, **headers})


async def statuses(apps: dict[str, FastAPI], token: str | None) -> dict[str, int]:
    return {name: (await call(apps[name], path, token)).status_code for name, path in ENDPOINTS.items()}


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})  # type: ignore[no-any-return]


async def test_a_keycloak_token_works_on_every_service(oidc_apps: dict[str, FastAPI], keycloak: Any) -> None:
    supervisor = keycloak.password_token("sup_chen")
    assert set(claims_of(supervisor)["aud"]) >= set(ENDPOINTS)
    assert await statuses(oidc_apps, supervisor) == dict.fromkeys(ENDPOINTS, 200)
    # Client credentials: the test client's service account (supervisor).
    assert await statuses(oidc_apps, keycloak.client_token()) == dict.fromkeys(ENDPOINTS, 200)
    # The subject is the user's id in the realm, the roles come from the realm roles.
    manager = keycloak.password_token("am_zhang")
    assert claims_of(manager)["sub"] == "am_zhang"
    got = await statuses(oidc_apps, manager)
    assert got["crm"] == 200 and got["sla"] == 403  # authenticated, but not a reader of SLA timers
    partner = keycloak.password_token("partner_hw")
    assert claims_of(partner)["partner"] == "huawei"
    # A partner user (partner_si + the partner claim) is authenticated everywhere, but reaches only the
    # tasks of its partner's nodes (docs/security.md, item 2): it used to read every ticket's SLA timers.
    got = await statuses(oidc_apps, partner)
    assert got == {"crm": 403, "eoms-bridge": 200, "sla": 403, "notify": 403, "stats": 403}, got


async def test_a_token_for_another_audience_is_refused(oidc_apps: dict[str, FastAPI], keycloak: Any) -> None:
    crm_only = keycloak.client_token(CRM_ONLY_CLIENT)  # an admin, but its tokens name the CRM only
    assert claims_of(crm_only)["aud"] == "crm"
    assert await statuses(oidc_apps, crm_only) == {"crm": 200, "eoms-bridge": 401, "sla": 401, "notify": 401,
                                                   "stats": 401}


async def test_fault_management_is_a_machine_client_of_the_bridge(oidc_apps: dict[str, FastAPI], keycloak: Any) -> None:
    """Client credentials of an integrating system: the `integration` role, the bridge's audience only; it
    reads TMF621 there (the tickets it opened) and nothing else (docs/tmf.md, "TMF621 Trouble Ticket")."""
    token = keycloak.client_token(FAULT_MANAGEMENT_CLIENT)
    claims = claims_of(token)
    assert claims["aud"] == "eoms-bridge" and "integration" in claims["roles"]
    assert await statuses(oidc_apps, token) == {"crm": 401, "eoms-bridge": 403, "sla": 401, "notify": 401, "stats": 401}
    r = await call(oidc_apps["eoms-bridge"], "/tmf-api/troubleTicket/v4/troubleTicket", token)
    assert r.status_code == 200 and r.headers["X-Total-Count"] == "0", r.text


async def test_forged_and_dev_tokens_are_refused(oidc_apps: dict[str, FastAPI], keycloak: Any) -> None:
    good = keycloak.password_token("admin_zhao")
    header = jwt.get_unverified_header(good)
    claims = claims_of(good)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": header["kid"]})
    elevated = jwt.encode({**claims, "roles": ["admin"], "sub": "someone_else"}, stranger, algorithm="RS256",
                          headers={"kid": header["kid"]})
    h, _, s = good.split(".")
    tampered = f"{h}.{jwt.utils.base64url_encode(json.dumps({**claims, 'sub': 'x'}).encode()).decode()}.{s}"
    unsigned = jwt.encode(claims, None, algorithm="none")
    dev = issue_token("admin_zhao", ["admin"], secret=DEV_JWT_SECRET)
    for token in (forged, elevated, tampered, unsigned, dev, "garbage", None):
        assert set((await statuses(oidc_apps, token)).values()) == {401}, str(token)[:30]


@pytest.fixture(scope="module")
def trusted_key(keycloak: Any) -> tuple[Any, str]:
    """A key of ours, published by Keycloak (priority 1: Keycloak keeps signing with its own)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption()).decode()
    keycloak.add_rsa_key("tests-trusted", priority=1, private_key_pem=pem)
    n = json.loads(RSAAlgorithm.to_jwk(key.public_key()))["n"]
    kid = next(k["kid"] for k in keycloak.jwks()["keys"] if k.get("n") == n)
    return key, kid


async def test_claims_decide_once_the_signature_is_trusted(
    oidc_apps: dict[str, FastAPI], keycloak: Any, trusted_key: tuple[Any, str],
) -> None:
    key, kid = trusted_key
    now = int(time.time())
    base = {"iss": keycloak.issuer, "aud": list(ENDPOINTS), "sub": "sup_chen", "roles": ["supervisor"],
            "iat": now, "exp": now + 120, "typ": "Bearer"}

    def sign(**changes: Any) -> str:
        claims = {k: v for k, v in {**base, **changes}.items() if v is not ...}
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})

    assert await statuses(oidc_apps, sign()) == dict.fromkeys(ENDPOINTS, 200)  # the key is trusted
    for bad in (
        {"exp": ...},                               # no exp
        {"exp": now - 10},                          # expired
        {"aud": "another-service"},                 # wrong audience
        {"iss": keycloak.issuer + "-other"},        # wrong issuer
        {"sub": ...},                               # no subject
        {"sub": "x" * (SUBJECT_MAX_LENGTH + 1)},    # longer than the actor columns
        {"roles": "supervisor"},                    # roles not a list
        {"typ": "ID"},                              # an ID token
    ):
        assert set((await statuses(oidc_apps, sign(**bad))).values()) == {401}, bad


async def test_a_key_rotation_is_picked_up(oidc_apps: dict[str, FastAPI], keycloak: Any) -> None:
    before = keycloak.password_token("sup_chen")
    assert await statuses(oidc_apps, before) == dict.fromkeys(ENDPOINTS, 200)  # the old key is cached
    keycloak.add_rsa_key("tests-rotated", priority=500)  # Keycloak signs with the new key from now on
    after = keycloak.password_token("sup_chen")
    assert jwt.get_unverified_header(after)["kid"] != jwt.get_unverified_header(before)["kid"]
    assert await statuses(oidc_apps, after) == dict.fromkeys(ENDPOINTS, 200)  # refetched on the unknown kid
    assert await statuses(oidc_apps, before) == dict.fromkeys(ENDPOINTS, 200)  # the old key is still published


async def test_database_unavailable_is_503_with_retry_after(oidc_apps: dict[str, FastAPI], keycloak: Any) -> None:
    token = keycloak.password_token("sup_chen")
    for name, app in oidc_apps.items():
        factory = app.state.runtime.session_factory
        bound = factory.kw["bind"]
        dead = create_async_engine("postgresql+asyncpg://postgres@127.0.0.1:9/postgres",
                                   connect_args={"timeout": 2})
        factory.configure(bind=dead)
        try:
            r = await call(app, ENDPOINTS[name], token)
        finally:
            factory.configure(bind=bound)
            await dead.dispose()
        assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json", (name, r.text)
        assert int(r.headers["retry-after"]) >= 1
