"""FastAPI dependencies as Annotated aliases; the routes' authorization rules; how a JWT principal becomes
a domain Actor and which tickets it reaches.

The suite's JWT roles are coarse (account_manager, network_staff, supervisor, admin); workflow
nodes use finer roles. `backbone.vocabulary.NODE_ROLES_OF_TOKEN_ROLE` says which a token acts as
(an account manager only on its own customers' tickets). A partner user (a token with the `partner`
claim) acts as `partner_si` only, on the tasks assigned to them, whatever roles its token holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import ColumnElement

from backbone.auth import Principal as Principal
from backbone.authz import authorize
from backbone.deps import PrincipalDep as PrincipalDep
from backbone.deps import RuntimeDep as RuntimeDep
from backbone.deps import SessionDep as SessionDep
from backbone.deps import context_of
from backbone.vocabulary import NodeRole, TokenRole, node_roles_of
from eoms_bridge.context import EomsContext
from eoms_bridge.domain.ticket import Actor
from eoms_bridge.models import tickets
from eoms_bridge.services.workflows import WorkflowStore

AM, NS, SUP, ADMIN = TokenRole.ACCOUNT_MANAGER, TokenRole.NETWORK_STAFF, TokenRole.SUPERVISOR, TokenRole.ADMIN


def actor_of(principal: Principal) -> Actor:
    if principal.partner is not None:
        return Actor(id=principal.subject, roles=frozenset({NodeRole.PARTNER_SI}))
    return Actor(id=principal.subject, roles=node_roles_of(principal.roles))


@dataclass(frozen=True)
class TicketScope:
    """Which tickets a principal reaches; any other answers 404 (its existence is not disclosed)."""

    account_manager: str | None = None  # only the tickets of this manager's customers
    assignee: str | None = None  # only the tasks assigned to this user (a partner user)

    def conditions(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.account_manager is not None:
            out.append(tickets.c.account_manager_id == self.account_manager)
        if self.assignee is not None:
            out.append(tickets.c.assignee == self.assignee)
        return out

    def sees(self, row: Any) -> bool:
        return ((self.account_manager is None or row["account_manager_id"] == self.account_manager)
                and (self.assignee is None or row["assignee"] == self.assignee))


def ticket_scope(principal: Principal) -> TicketScope:
    """Network staff, supervisors and admins reach every ticket; an account manager (holding no wider
    role) their own customers'; a partner user the tasks assigned to them."""
    if principal.partner is not None:
        return TicketScope(assignee=principal.subject)
    if principal.has(SUP, ADMIN, NS):
        return TicketScope()
    return TicketScope(account_manager=principal.subject)


# Each route's authorization rule (backbone.authz).
_TICKETS = ("an account manager: own customers' tickets; a partner user: the tasks assigned to them; "
            "any other ticket answers 404")
TicketReaderDep = Annotated[Principal, authorize(AM, NS, SUP, ADMIN, scope=_TICKETS, partners=True)]
TicketWorkerDep = Annotated[Principal, authorize(
    AM, NS, SUP, ADMIN, scope=_TICKETS, partners=True,
    checks="the node's role, its assignee and the action decide who may act (403)")]
QueueReaderDep = Annotated[Principal, authorize(
    AM, NS, SUP, ADMIN, scope=_TICKETS, partners=True, checks="a queue of a role the token does not work is 403")]
TmfReaderDep = Annotated[Principal, authorize(
    AM, NS, SUP, ADMIN, scope="an account manager: own customers' tickets (another's: 404)")]
WorkflowReaderDep = Annotated[Principal, authorize(ADMIN, SUP)]
WorkflowAdminDep = Annotated[Principal, authorize(ADMIN)]


ContextDep = Annotated[EomsContext, Depends(context_of(EomsContext))]


def get_store(context: ContextDep) -> WorkflowStore:
    return context.store


StoreDep = Annotated[WorkflowStore, Depends(get_store)]
