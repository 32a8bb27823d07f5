"""/api/v1/auth/config: how a front end signs people in here, asked before anyone has a token.

Whether the development token issuer answers (`POST /api/v1/dev/token`: local/test environments with
`DEV_TOKEN_ISSUER` on), and the OpenID Connect provider a browser logs in with (authorization code +
PKCE, a public client: no secret here). Nothing in it is secret: it is what the login page needs.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from backbone.authz import public
from crm.api.deps import ContextDep

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class OidcConfig(BaseModel):
    issuer: str = Field(description="the provider's issuer URL (its discovery document is under it)")
    client_id: str | None = Field(description="the public client a browser logs in as (null: not configured)")
    scope: str = Field(description="the scopes a browser asks for")
    roles_claim: str = Field(description="the claim holding the suite's roles (a dotted path: realm_access.roles)")


class AuthConfig(BaseModel):
    dev_login: bool = Field(description="the development token issuer answers here (local/test only)")
    oidc: OidcConfig | None = Field(description="single sign-on, where an OIDC provider is configured")


@router.get("/config", response_model=AuthConfig, summary="How to sign in: dev token issuer on/off, the OIDC provider",
            dependencies=[public("what a login page needs before anyone signs in: nothing secret")])
async def auth_config(ctx: ContextDep) -> AuthConfig:
    s = ctx.settings
    oidc = None
    if s.oidc_issuer:
        oidc = OidcConfig(issuer=s.oidc_issuer, client_id=s.oidc_client_id, scope=s.oidc_scope,
                          roles_claim=s.oidc_roles_claim)
    return AuthConfig(dev_login=s.dev_environment and s.dev_token_issuer, oidc=oidc)
