"""FastAPI dependencies as Annotated aliases: a route names what it needs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from backbone.auth import Principal as Principal
from backbone.authz import authorize
from backbone.deps import PrincipalDep as PrincipalDep
from backbone.deps import SessionDep as SessionDep
from backbone.deps import context_of
from backbone.vocabulary import TOKEN_ROLES
from stats.context import StatsContext

ContextDep = Annotated[StatsContext, Depends(context_of(StatsContext))]

AM, SUP, HEAD, ADMIN = "account_manager", "supervisor", "department_head", "admin"


def _roles(*roles: str) -> tuple[str, ...]:
    # department_head is a token role of issue 13 (item 1); until the vocabulary has it, the rule omits it.
    return tuple(r for r in roles if r in TOKEN_ROLES)


# Each route's authorization rule (backbone.authz), recorded as x-authz in the OpenAPI document.
BusinessReaderDep = Annotated[Principal, authorize(
    *_roles(SUP, HEAD, ADMIN, AM),
    scope="an account manager: the figures of their own customers only (account_manager_id = the token's subject)")]
TimelinessReaderDep = Annotated[Principal, authorize(
    *_roles(SUP, HEAD, ADMIN),
    scope="a department head: the people of the departments they head and their own (roster); "
          "asking for another department is 404")]
ReportReaderDep = Annotated[Principal, authorize(*_roles(SUP, HEAD, ADMIN))]


def sees_all(principal: Principal) -> bool:
    """Supervisors and admins read every figure; others are narrowed to their scope."""
    return principal.has(SUP, ADMIN)
