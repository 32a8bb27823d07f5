"""FastAPI dependencies as Annotated aliases: a route names what it needs, nothing more."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from backbone.auth import Principal
from backbone.authz import authorize
from backbone.deps import PrincipalDep as PrincipalDep
from backbone.deps import RuntimeDep as RuntimeDep
from backbone.deps import SessionDep as SessionDep
from backbone.deps import context_of
from backbone.vocabulary import TokenRole
from notify.context import NotifyContext

# The parts bootstrap built (settings, directory, templates, dispatch): `ctx.directory`, `ctx.settings`, ...
ContextDep = Annotated[NotifyContext, Depends(context_of(NotifyContext))]

AM, SUP, ADMIN = TokenRole.ACCOUNT_MANAGER, TokenRole.SUPERVISOR, TokenRole.ADMIN

# Each route's authorization rule (backbone.authz); the principal is the dependency's value.
DeliveryReaderDep = Annotated[Principal, authorize(
    AM, SUP, ADMIN, scope="an account manager: the deliveries addressed to them (another's: 404)",
    checks="an account manager filtering by another recipient is 403")]
DirectoryReaderDep = Annotated[Principal, authorize(SUP, ADMIN)]
TemplateReaderDep = Annotated[Principal, authorize(SUP, ADMIN, AM)]
AdminDep = Annotated[Principal, authorize(ADMIN)]
