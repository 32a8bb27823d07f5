"""A small dev token issuer for `make run` and the tests; absent outside local/test environments."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from backbone.auth import issue_token
from backbone.authz import public
from backbone.problems import Problem
from backbone.vocabulary import TokenRole
from crm.api.deps import ContextDep

router = APIRouter(prefix="/api/v1/dev", tags=["dev"])


class TokenIn(BaseModel):
    subject: str = Field(min_length=1, max_length=60, examples=["am_zhang"])
    roles: list[TokenRole] = Field(min_length=1)
    name: str | None = None
    partner: str | None = Field(default=None, min_length=1, max_length=60,
                                description="a partner user's partner (the `partner` claim)")


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"


@router.post("/token", response_model=TokenOut, summary="Issue a development JWT (local/test only)",
             dependencies=[public("the development token issuer: mounted only where ENVIRONMENT is local or test")])
async def dev_token(body: TokenIn, ctx: ContextDep) -> TokenOut:
    settings = ctx.settings
    if not settings.dev_environment or not settings.dev_token_issuer:
        raise Problem(404, "Not found", "the dev token issuer is disabled")
    token = issue_token(body.subject, list(body.roles), secret=settings.jwt_secret, issuer=settings.jwt_issuer,
                        name=body.name, partner=body.partner)
    return TokenOut(access_token=token)
