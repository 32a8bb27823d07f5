"""FastAPI dependencies as Annotated aliases, and how a JWT principal becomes a domain Actor.

The suite's JWT roles are coarse (account_manager, network_staff, supervisor, admin); workflow
nodes use finer roles. `backbone.vocabulary.NODE_ROLES_OF_TOKEN_ROLE` says which a token acts as
(an account manager only on its own customers' tickets).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from backbone.auth import Principal as Principal
from backbone.deps import PrincipalDep as PrincipalDep
from backbone.deps import RuntimeDep as RuntimeDep
from backbone.deps import SessionDep as SessionDep
from backbone.deps import context_of
from backbone.vocabulary import TokenRole, node_roles_of
from eoms_bridge.context import EomsContext
from eoms_bridge.domain.ticket import Actor
from eoms_bridge.services.workflows import WorkflowStore


def actor_of(principal: Principal) -> Actor:
    return Actor(id=principal.subject, roles=node_roles_of(principal.roles))


def owner_filter(principal: Principal) -> str | None:
    """An account manager who holds no wider role sees only their own customers' tickets."""
    if principal.has(TokenRole.SUPERVISOR, TokenRole.ADMIN, TokenRole.NETWORK_STAFF):
        return None
    return principal.subject if principal.has(TokenRole.ACCOUNT_MANAGER) else None


ContextDep = Annotated[EomsContext, Depends(context_of(EomsContext))]


def get_store(context: ContextDep) -> WorkflowStore:
    return context.store


StoreDep = Annotated[WorkflowStore, Depends(get_store)]
