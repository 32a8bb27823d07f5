"""FastAPI dependencies as Annotated aliases; the routes' authorization rules; how a JWT principal becomes
a domain Actor and which tickets it reaches.

A token's roles work the node roles of the same name (`backbone.vocabulary.NODE_ROLES_OF_TOKEN_ROLE`:
no role covers another; supervisors and admins may override, recorded as such); an account manager
reaches only its own customers' tickets. A partner user (a token with the `partner` claim) acts as
`partner_si` only, on the tickets whose current node is assigned to its partner (recorded on the ticket
when the node is entered, `tickets.partner`), whatever roles its token holds.
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
from backbone.vocabulary import NETWORK_TOKEN_ROLES, NodeRole, TokenRole, node_roles_of
from eoms_bridge.context import EomsContext
from eoms_bridge.domain.ticket import Actor
from eoms_bridge.models import tickets
from eoms_bridge.services.workflows import WorkflowStore

AM, NS, SUP, ADMIN = TokenRole.ACCOUNT_MANAGER, TokenRole.NETWORK_STAFF, TokenRole.SUPERVISOR, TokenRole.ADMIN
DESK, DISPATCHER, HEAD, PARTNER = (TokenRole.COMPLAINT_DESK, TokenRole.DISPATCHER, TokenRole.DEPARTMENT_HEAD,
                                   TokenRole.PARTNER_SI)
#: Who reaches every ticket (an account manager holding none of these: its own customers' only).
SEES_ALL = (*NETWORK_TOKEN_ROLES, DESK, DISPATCHER, SUP, HEAD, ADMIN)
#: Who works (or dispatches) tickets: every role of the EOMS side.
TICKET_ROLES = (AM, *SEES_ALL, PARTNER)
#: Who dispatches and reassigns any open task (to people holding its role).
DISPATCHERS = (DISPATCHER, SUP, ADMIN)


def actor_of(principal: Principal) -> Actor:
    if principal.partner is not None:
        return Actor(id=principal.subject, roles=frozenset({NodeRole.PARTNER_SI}))
    return Actor(id=principal.subject, roles=node_roles_of(principal.roles),
                 dispatcher=principal.has(*DISPATCHERS))


@dataclass(frozen=True)
class TicketScope:
    """Which tickets a principal reaches; any other answers 404 (its existence is not disclosed)."""

    account_manager: str | None = None  # only the tickets of this manager's customers
    partner: str | None = None  # only the tickets whose current node is this partner's (a partner user)

    def conditions(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.account_manager is not None:
            out.append(tickets.c.account_manager_id == self.account_manager)
        if self.partner is not None:
            out.append(tickets.c.partner == self.partner)
        return out

    def sees(self, row: Any) -> bool:
        return ((self.account_manager is None or row["account_manager_id"] == self.account_manager)
                and (self.partner is None or row["partner"] == self.partner))


def ticket_scope(principal: Principal) -> TicketScope:
    """The network side, the complaint desk, dispatchers, supervisors, department heads and admins reach
    every ticket; an account manager (holding no wider role) their own customers'; a partner user the
    tickets whose current node is assigned to its partner."""
    if principal.partner is not None:
        return TicketScope(partner=principal.partner)
    if principal.has(*SEES_ALL):
        return TicketScope()
    return TicketScope(account_manager=principal.subject)


# Each route's authorization rule (backbone.authz).
_TICKETS = ("an account manager: own customers' tickets; a partner user: the tickets whose current node is "
            "assigned to its partner; any other ticket answers 404")
TicketReaderDep = Annotated[Principal, authorize(*TICKET_ROLES, scope=_TICKETS, partners=True)]
TicketWorkerDep = Annotated[Principal, authorize(
    *TICKET_ROLES, scope=_TICKETS, partners=True,
    checks="the node's role, its assignee and the action decide who may act (403)")]
QueueReaderDep = Annotated[Principal, authorize(
    *TICKET_ROLES, scope=_TICKETS, partners=True,
    checks="a queue of a role the token does not work is 403 (dispatchers, supervisors, admins read every queue)")]
TmfReaderDep = Annotated[Principal, authorize(
    AM, *SEES_ALL, scope="an account manager: own customers' tickets (another's: 404)")]
WorkflowReaderDep = Annotated[Principal, authorize(ADMIN, SUP)]
WorkflowAdminDep = Annotated[Principal, authorize(ADMIN)]


ContextDep = Annotated[EomsContext, Depends(context_of(EomsContext))]


def get_store(context: ContextDep) -> WorkflowStore:
    return context.store


StoreDep = Annotated[WorkflowStore, Depends(get_store)]
