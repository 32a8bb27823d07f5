"""GET /api/v1/auth/config: what the login page is told, per environment (no infrastructure needed)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from crm.api.auth_config import auth_config
from crm.settings import CrmSettings

pytestmark = pytest.mark.asyncio


def _ctx(**settings: Any) -> Any:
    return SimpleNamespace(settings=CrmSettings(**settings))


async def test_local_and_test_offer_the_dev_login_unless_switched_off() -> None:
    assert (await auth_config(_ctx(environment="local"))).model_dump() == {"dev_login": True, "oidc": None}
    off = await auth_config(_ctx(environment="test", dev_token_issuer=False))
    assert off.dev_login is False


async def test_production_offers_single_sign_on_only() -> None:
    out = await auth_config(_ctx(
        environment="production", jwt_secret="a-production-secret-0123456789abcdefghijkl",
        oidc_issuer="https://idp.example.cn/realms/ops", oidc_client_id="ops-console",
        oidc_roles_claim="realm_access.roles"))
    assert out.model_dump() == {"dev_login": False, "oidc": {
        "issuer": "https://idp.example.cn/realms/ops", "client_id": "ops-console", "scope": "openid profile",
        "roles_claim": "realm_access.roles"}}
