"""FastAPI dependencies as Annotated aliases (as in crm.api.deps): a route names what it needs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from backbone.auth import Principal as Principal
from backbone.authz import authorize
from backbone.deps import PrincipalDep as PrincipalDep
from backbone.deps import RuntimeDep as RuntimeDep
from backbone.deps import SessionDep as SessionDep
from backbone.deps import context_of
from backbone.deps import get_principal as get_principal
from backbone.deps import get_runtime as get_runtime
from backbone.deps import get_session as get_session
from backbone.vocabulary import NETWORK_TOKEN_ROLES, TokenRole
from sla.context import SlaContext

# Who may read timers, reports and the live feed; who may load and activate policies (backbone.authz:
# each route's rule, in its OpenAPI operation). Partner users read none of it.
READERS = (TokenRole.SUPERVISOR, TokenRole.ADMIN, TokenRole.DEPARTMENT_HEAD, TokenRole.DISPATCHER,
           TokenRole.COMPLAINT_DESK, *NETWORK_TOKEN_ROLES)
ADMINS = (TokenRole.ADMIN,)

ContextDep = Annotated[SlaContext, Depends(context_of(SlaContext))]
ReaderDep = Annotated[Principal, authorize(*READERS)]
AdminDep = Annotated[Principal, authorize(*ADMINS)]
