"""Who may see and change what (docs/crm.md has the matrix).

- account_manager: own customers only, and their key persons, opportunities, orders, complaints;
  another manager's customer answers 404 (its existence is not disclosed), never data;
- network_staff: read-only on orders and complaints (all of them), nothing else but the catalogue;
- supervisor: reads everything, changes nothing;
- admin: everything.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.auth import Principal, require
from backbone.problems import Problem
from backbone.vocabulary import TokenRole
from crm.models import customers

AM, NS, SUP, ADMIN = TokenRole.ACCOUNT_MANAGER, TokenRole.NETWORK_STAFF, TokenRole.SUPERVISOR, TokenRole.ADMIN

#: may read customers, key persons (masked), opportunities, the workbench
CUSTOMER_READERS = (AM, SUP, ADMIN)
#: may read orders and complaints
WORK_READERS = (AM, NS, SUP, ADMIN)
#: may create and change customers' data, opportunities, orders and complaints
WRITERS = (AM, ADMIN)


def sees_all(principal: Principal, *, customers_too: bool = False) -> bool:
    """True when the principal is not limited to its own customers for reading."""
    return principal.has(SUP, ADMIN) or (not customers_too and principal.has(NS))


def owner_filter(principal: Principal, column: Any, *, customers_too: bool = False) -> ColumnElement[bool] | None:
    """None (no restriction) or `column == me` for an account manager."""
    return None if sees_all(principal, customers_too=customers_too) else column == principal.subject


def not_found(kind: str, ident: str, field: str | None = None) -> Problem:
    """404 naming the field (the path parameter unless told): the same for "absent" and "not yours"."""
    field = field or kind.replace(" ", "_") + "_id"
    errors = [{"field": field, "message": f"unknown {kind}"}]
    return Problem(404, "Not found", f"{kind} {ident} not found", errors=errors)


def may_touch(principal: Principal, account_manager_id: str, *, write: bool, customers_too: bool) -> bool:
    if write:
        return principal.has(ADMIN) or (principal.has(AM) and account_manager_id == principal.subject)
    return sees_all(principal, customers_too=customers_too) or (
        principal.has(AM) and account_manager_id == principal.subject
    )


async def load_customer(
    session: AsyncSession, principal: Principal, customer_id: str, *, write: bool = False, field: str | None = None,
    lock: bool = False,
) -> Any:
    """The customer row if the principal may read it (or change it, with `write`); 404 otherwise."""
    require(principal, *(WRITERS if write else CUSTOMER_READERS))
    stmt = select(customers).where(customers.c.id == customer_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).first()
    if row is None or not may_touch(principal, row.account_manager_id, write=write, customers_too=True):
        raise not_found("customer", customer_id, field)
    return row


def check_owned(principal: Principal, kind: str, ident: str, account_manager_id: str, *, write: bool,
                customers_too: bool = False) -> None:
    """404 unless the principal may read (or change) an entity of that account manager."""
    if not may_touch(principal, account_manager_id, write=write, customers_too=customers_too):
        raise not_found(kind, ident)
