"""Who may see and change what: the CRM's access policy, called by the routers (docs/crm.md has the matrix).

- account_manager: own customers only, and their key persons, opportunities, orders, complaints;
  another manager's customer answers 404 (its existence is not disclosed), never data;
- network_staff: read-only on orders and complaints (all of them), nothing else but the catalogue;
- supervisor: reads everything, changes nothing;
- department_head: reads like a supervisor (everything, the tiering too), changes nothing;
- complaint_desk: reads every customer and what hangs on it (key persons masked, as for a supervisor;
  opportunities, the workbench) and the product catalogue, registers and reads complaints for any
  customer; no orders, no changes, no complaint steps;
- agent: reads the customers assigned to them (`customers.agent_id`) and those customers' orders, and
  places orders for them through the `agent` channel only; any other customer, and its orders, is 404;
  nothing else (403);
- admin: everything, the overrides included (the EOMS-driven steps, reassigning a customer).

The policy checks the caller's roles (403) and hands the use cases a plain `Scope` (who acts, whose
customers are within reach); the use cases answer 404 for anything out of it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, select

from backbone.auth import Principal, require
from backbone.errors import Forbidden, Invalid
from backbone.vocabulary import SalesChannel, TokenRole
from crm.domain.lifecycle import ComplaintAction, OrderAction
from crm.domain.scope import Scope
from crm.models import customers

AM, NS, SUP, ADMIN = TokenRole.ACCOUNT_MANAGER, TokenRole.NETWORK_STAFF, TokenRole.SUPERVISOR, TokenRole.ADMIN
DESK, HEAD, AGENT = TokenRole.COMPLAINT_DESK, TokenRole.DEPARTMENT_HEAD, TokenRole.AGENT

#: may read customers, key persons (masked), opportunities, the workbench
CUSTOMER_READERS = (AM, SUP, HEAD, DESK, ADMIN)
#: may read orders and complaints
WORK_READERS = (AM, NS, SUP, HEAD, ADMIN)
#: may read complaints (the desk too)
COMPLAINT_READERS = (*WORK_READERS, DESK)
#: may create and change customers' data, opportunities, orders and complaints
WRITERS = (AM, ADMIN)
#: may register a complaint (the desk takes them for any customer)
COMPLAINT_REGISTRARS = (*WRITERS, DESK)
#: the agent channel's routes (customers: list, get; orders: list, get, create): these and the agents
AGENT_CUSTOMER_READERS = (*CUSTOMER_READERS, AGENT)
AGENT_WORK_READERS = (*WORK_READERS, AGENT)
ORDER_PLACERS = (*WRITERS, AGENT)
#: may read the product catalogue
CATALOGUE_READERS = (AM, NS, SUP, HEAD, DESK, AGENT, ADMIN)
#: may read the tiering configuration and the customers per tier
TIERING_READERS = (SUP, HEAD, ADMIN)

#: order steps the EOMS tickets drive: by REST only an admin may take them (a manual override)
FORCED_ORDER_ACTIONS = frozenset({OrderAction.START, OrderAction.OPEN, OrderAction.REJECT})
#: complaint steps the EOMS ticket drives (the account manager's are reopen, revisit, archive)
FORCED_COMPLAINT_ACTIONS = frozenset({ComplaintAction.DISPATCH, ComplaintAction.RESOLVE})


def sees_all(principal: Principal, *, customers_too: bool = False) -> bool:
    """True when the principal is not limited to its own customers for reading."""
    return principal.has(SUP, HEAD, ADMIN, DESK) or (not customers_too and principal.has(NS))


def _scope(principal: Principal, *, everyone: bool) -> Scope:
    return Scope(actor=principal.subject, owner=None if everyone else principal.subject, admin=principal.has(ADMIN))


def customer_reader(principal: Principal) -> Scope:
    """Reading customers and what only their account managers see (key persons, opportunities, workbench)."""
    require(principal, *CUSTOMER_READERS)
    return _scope(principal, everyone=sees_all(principal, customers_too=True))


def work_reader(principal: Principal) -> Scope:
    """Reading orders and complaints (network staff too)."""
    require(principal, *WORK_READERS)
    return _scope(principal, everyone=sees_all(principal))


def complaint_reader(principal: Principal) -> Scope:
    """Reading complaints: the work readers and the complaint desk (every customer's)."""
    require(principal, *COMPLAINT_READERS)
    return _scope(principal, everyone=sees_all(principal))


def complaint_registrar(principal: Principal) -> Scope:
    """Registering a complaint: the customer's account manager, an admin, or the complaint desk (any customer)."""
    require(principal, *COMPLAINT_REGISTRARS)
    return _scope(principal, everyone=principal.has(ADMIN, DESK))


def writer(principal: Principal) -> Scope:
    """Changing a customer's data or work: its own account manager, or an admin."""
    require(principal, *WRITERS)
    return _scope(principal, everyone=principal.has(ADMIN))


def _as_agent(principal: Principal, others: tuple[str, ...]) -> bool:
    """True when the principal acts as an agent: it holds the role and none of the route's other roles."""
    require(principal, *others, AGENT)
    return not principal.has(*others)


def _agent_scope(principal: Principal) -> Scope:
    return Scope(actor=principal.subject, agent=principal.subject)


def agent_customer_reader(principal: Principal) -> Scope:
    """Reading customers on the routes an agent may call: an agent's assigned customers only."""
    if _as_agent(principal, CUSTOMER_READERS):
        return _agent_scope(principal)
    return customer_reader(principal)


def agent_work_reader(principal: Principal) -> Scope:
    """Reading orders on the routes an agent may call: the orders of an agent's assigned customers only."""
    if _as_agent(principal, WORK_READERS):
        return _agent_scope(principal)
    return work_reader(principal)


def order_placer(principal: Principal) -> Scope:
    """Creating an order: its customer's account manager, an admin, or the customer's agent."""
    if _as_agent(principal, WRITERS):
        return _agent_scope(principal)
    return writer(principal)


def order_channel(scope: Scope, requested: str | None) -> str:
    """The order's channel: an agent orders through the `agent` channel only (the default for them)."""
    if scope.agent is None:
        return requested or SalesChannel.ACCOUNT_MANAGER.value
    if requested not in (None, SalesChannel.AGENT.value):
        raise Forbidden("an agent orders through the agent channel only",
                        errors=[{"field": "channel", "message": "must be agent"}])
    return SalesChannel.AGENT.value


def catalogue_reader(principal: Principal) -> None:
    require(principal, *CATALOGUE_READERS)


def tiering_reader(principal: Principal) -> None:
    require(principal, *TIERING_READERS)


def tiering_admin(principal: Principal) -> None:
    """Re-grading every customer: an admin's."""
    require(principal, ADMIN)


def owner_filter(scope: Scope, column: Any, customer_column: Any = None) -> ColumnElement[bool] | None:
    """None (no restriction) or `column == me` for an account manager: what a list may show. For an agent:
    the rows whose `customer_column` is a customer assigned to them (nothing without one)."""
    if scope.agent is not None:
        if customer_column is None:
            return false()
        assigned: ColumnElement[bool] = customer_column.in_(
            select(customers.c.id).where(customers.c.agent_id == scope.agent))
        return assigned
    return None if scope.owner is None else column == scope.owner


def sees_full_contacts(principal: Principal, account_manager_id: str) -> bool:
    """Unmasked phone and e-mail of a key person: the customer's own account manager, or an admin."""
    return principal.has(ADMIN) or (principal.has(AM) and account_manager_id == principal.subject)


def new_customer_manager(principal: Principal, requested: str | None) -> str:
    """Whose a new customer is: an account manager registers customers for themselves; an admin names one."""
    if not principal.has(ADMIN):
        if requested not in (None, principal.subject):
            raise Forbidden("an account manager creates customers for themselves only",
                            errors=[{"field": "account_manager_id", "message": "must be yourself"}])
        return principal.subject
    if not requested:
        raise Invalid("account_manager_id: is required",
                      errors=[{"field": "account_manager_id", "message": "is required"}])
    return requested


def check_order_action(principal: Principal, action: OrderAction) -> None:
    """403 for an EOMS-driven order step unless an admin forces it (call it once the order is known to be
    within the caller's reach: another manager's order is 404 first)."""
    if action in FORCED_ORDER_ACTIONS and not principal.has(ADMIN):
        raise Forbidden(f"{action.value} follows the EOMS tickets; only an admin may force it")


def check_complaint_action(principal: Principal, action: ComplaintAction) -> None:
    """403 for an EOMS-driven complaint step unless an admin forces it (after the 404 check, as above)."""
    if action in FORCED_COMPLAINT_ACTIONS and not principal.has(ADMIN):
        raise Forbidden(f"{action.value} follows the EOMS ticket; only an admin may force it")
