"""FastAPI dependencies as Annotated aliases: a route names what it needs, nothing more."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone.auth import Principal as Principal
from backbone.authz import admit, authorize, authorize_within, roles_rule
from backbone.deps import PrincipalDep as PrincipalDep
from backbone.deps import RuntimeDep as RuntimeDep
from backbone.deps import SessionDep as SessionDep
from backbone.deps import context_of, token_verifier
from backbone.deps import get_principal as get_principal
from backbone.deps import get_runtime as get_runtime
from backbone.deps import get_session as get_session
from backbone.idempotency import Idempotency, KeyHeader, idempotency_dependency, idempotency_of
from backbone.runtime import ServiceRuntime
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
_ORDER_PLACERS = roles_rule(*access.ORDER_PLACERS, scope=_AGENT, checks=_CHANNEL)
OrderPlacerDep = Annotated[Principal, authorize(*access.ORDER_PLACERS, scope=_AGENT, checks=_CHANNEL)]
_FORCED = "the steps the EOMS tickets drive (start/open/reject, dispatch/resolve): an admin's override only (403)"
ActorDep = Annotated[Principal, authorize(*access.WRITERS, scope=_OWN, checks=_FORCED)]
CatalogueReaderDep = Annotated[Principal, authorize(*access.CATALOGUE_READERS)]
TieringReaderDep = Annotated[Principal, authorize(*access.TIERING_READERS)]
TieringAdminDep = Annotated[Principal, authorize(access.ADMIN)]


_crm_context = context_of(CrmContext)


@dataclass(frozen=True)
class OrderPlacement:
    """What `POST /api/v1/orders` needs, from one dependency (`order_placement`); the route opens its session
    itself (`session()`, `async with`)."""

    principal: Principal
    context: CrmContext
    idempotency: Idempotency
    sessions: async_sessionmaker[AsyncSession]

    def session(self) -> AsyncSession:
        """A new session, to use as `async with call.session() as session:` (closed when the block ends)."""
        return self.sessions()


async def order_placement(request: Request, authorization: Annotated[str | None, Header()] = None,
                          idempotency_key: KeyHeader = None) -> OrderPlacement:
    """The order POST's caller (the order placers' rule: 401/403 first), its Idempotency-Key (422 naming the
    header), the context and the service's sessions, as one dependency: the hot route's five (principal, its
    token, the session, the context, the key) were five levels of FastAPI's resolution per order, ~0.3 CPU-ms
    (issue 16). A plain coroutine, not a generator yielding an open session: a dependency with `yield` costs an
    exit stack entry, a context manager and a cancel scope per request (~30 µs), so the route opens the session.
    The same header parameters, hence the same OpenAPI operation, as `OrderPlacerDep` + `IdempotencyDep`."""
    principal = admit(_ORDER_PLACERS, await token_verifier(request).principal(authorization))
    idempotency = await idempotency_of(request, idempotency_keys, idempotency_key, principal.subject)
    context = await _crm_context(request)
    runtime: ServiceRuntime[Any] = request.app.state.runtime
    return OrderPlacement(principal, context, idempotency, runtime.session_factory)


OrderPlacementDep = Annotated[OrderPlacement, authorize_within(order_placement, _ORDER_PLACERS)]
