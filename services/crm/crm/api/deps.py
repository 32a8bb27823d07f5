"""FastAPI dependencies as Annotated aliases: a route names what it needs, nothing more."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from backbone.auth import Principal as Principal
from backbone.deps import PrincipalDep as PrincipalDep
from backbone.deps import RuntimeDep as RuntimeDep
from backbone.deps import SessionDep as SessionDep
from backbone.deps import context_of
from backbone.deps import get_principal as get_principal
from backbone.deps import get_runtime as get_runtime
from backbone.deps import get_session as get_session
from backbone.idempotency import Idempotency, idempotency_dependency
from crm.context import CrmContext
from crm.models import idempotency_keys

#: what `bootstrap` built: settings, product catalogue, tiering configuration
ContextDep = Annotated[CrmContext, Depends(context_of(CrmContext))]


get_idempotency = idempotency_dependency(idempotency_keys)
IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]
