"""The seed's roles from a real identity provider (issue 13): Keycloak's realm users carry the suite's token
roles, and each works the node role of the same name only; partner users of two companies carry their
`partner` claim (docs/security.md, "Roles"). Uses the session's Keycloak (tests/security/conftest.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI


@pytest_asyncio.fixture(scope="module")
async def role_apps(infra: Any, keycloak: Any, service_apps: Any) -> dict[str, FastAPI]:
    apps: dict[str, FastAPI] = service_apps(
        infra.database_url, oidc_issuer=keycloak.issuer, oidc_jwks_min_refresh_s=0, oidc_leeway_s=0)
    for app in apps.values():
        app.state.token_verifier.dev_secret = None  # as outside local/test: the dev issuer is off
    return apps


async def get(app: FastAPI, path: str, token: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        return await client.get(path, headers={"Authorization": f"Bearer {token}"})


async def test_the_realm_users_carry_the_seeds_roles(role_apps: dict[str, FastAPI], keycloak: Any) -> None:
    eoms, sla, crm = role_apps["eoms-bridge"], role_apps["sla"], role_apps["crm"]
    expected = {
        # user: (roles, node roles they work, partner)
        "noc_wang": (["network_resource", "network_staff"], ["network_resource", "network_staff"], None),
        "partner_hw": (["partner_si"], ["partner_si"], "huawei"),
        "partner_zte": (["partner_si"], ["partner_si"], "zte"),
        "disp_liu": (["dispatcher"], [], None),
        "head_zhou": (["department_head"], [], None),
        "desk_guo": (["complaint_desk"], ["complaint_desk"], None),
        "agent_sun": (["agent"], [], None),
        "sup_chen": (["supervisor"], ["supervisor"], None),
    }
    for user, (roles, node_roles, partner) in expected.items():
        me = (await get(eoms, "/api/v1/me", keycloak.password_token(user))).json()
        assert (me["roles"], me["node_roles"], me["partner"]) == (roles, node_roles, partner), (user, me)
    # what each reaches (docs/security.md, "Roles")
    reach = {
        "noc_wang": (200, 200, 403), "disp_liu": (200, 200, 403), "head_zhou": (200, 200, 200),
        "desk_guo": (200, 200, 200), "agent_sun": (403, 403, 200), "partner_zte": (200, 403, 403),
    }
    for user, (tickets, timers, customers) in reach.items():
        token = keycloak.password_token(user)
        got = ((await get(eoms, "/api/v1/tickets", token)).status_code,
               (await get(sla, "/api/v1/timers?ticket_id=tkt_none", token)).status_code,
               (await get(crm, "/api/v1/customers", token)).status_code)
        assert got == (tickets, timers, customers), (user, got)
    # the queue of a role: its own only (no catch-all); a dispatcher reads every queue
    assert (await get(eoms, "/api/v1/queues/network_resource", keycloak.password_token("noc_wang"))).status_code == 200
    assert (await get(eoms, "/api/v1/queues/noc_tester", keycloak.password_token("noc_wang"))).status_code == 403
    assert (await get(eoms, "/api/v1/queues/noc_tester", keycloak.password_token("disp_liu"))).status_code == 200
