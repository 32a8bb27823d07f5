"""FastAPI dependencies as Annotated aliases: a route names what it needs, nothing more."""

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
from backbone.idempotency import Idempotency, idempotency_dependency
from crm import access
from crm.context import CrmContext
from crm.models import idempotency_keys

#: what `bootstrap` built: settings, product catalogue, tiering configuration
ContextDep = Annotated[CrmContext, Depends(context_of(CrmContext))]


get_idempotency = idempotency_dependency(idempotency_keys)
IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]


# Each route's authorization rule (backbone.authz; the roles are crm.access's, which also hands the use
# cases their `Scope`): the principal is the dependency's value.
_OWN = "an account manager: own customers' only (another manager's customer, and all under it, answers 404)"
CustomerReaderDep = Annotated[Principal, authorize(*access.CUSTOMER_READERS, scope=_OWN)]
WorkReaderDep = Annotated[Principal, authorize(*access.WORK_READERS, scope=_OWN)]
WriterDep = Annotated[Principal, authorize(*access.WRITERS, scope=_OWN)]
_DESK = _OWN + "; the complaint desk: every customer's"
ComplaintReaderDep = Annotated[Principal, authorize(*access.COMPLAINT_READERS, scope=_DESK)]
ComplaintRegistrarDep = Annotated[Principal, authorize(*access.COMPLAINT_REGISTRARS, scope=_DESK)]
_AGENT = _OWN + "; an agent: the customers assigned to them and their orders (any other: 404)"
AgentCustomerReaderDep = Annotated[Principal, authorize(*access.AGENT_CUSTOMER_READERS, scope=_AGENT)]
AgentWorkReaderDep = Annotated[Principal, authorize(*access.AGENT_WORK_READERS, scope=_AGENT)]
_CHANNEL = "an agent orders through the agent channel only (403 naming channel)"
OrderPlacerDep = Annotated[Principal, authorize(*access.ORDER_PLACERS, scope=_AGENT, checks=_CHANNEL)]
_FORCED = "the steps the EOMS tickets drive (start/open/reject, dispatch/resolve): an admin's override only (403)"
ActorDep = Annotated[Principal, authorize(*access.WRITERS, scope=_OWN, checks=_FORCED)]
CatalogueReaderDep = Annotated[Principal, authorize(*access.CATALOGUE_READERS)]
TieringReaderDep = Annotated[Principal, authorize(*access.TIERING_READERS)]
TieringAdminDep = Annotated[Principal, authorize(access.ADMIN)]
