"""Who gets a node task: the node's partner when it is entered, the automatic dispatch to the on-duty
person of its role in the ticket's region, and the dispatch / reassignment to a named unit.

Runs in the caller's transaction, on the domain Ticket the caller then stores (``services/tickets.py``):
the assignment's events (``NodeAssigned`` with ``how="auto"`` or ``"manual"``) join the action's, so the
ticket's history and ``eoms.tickets`` carry them. The choice itself is pure
(``eoms_bridge.domain.dispatch``); here are the database parts: the round-robin cursor per (role,
region), locked while a dispatch picks, and the open-task counts of the least-loaded strategy.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.errors import Invalid
from backbone.vocabulary import NodeRole
from eoms_bridge.domain import events as dom
from eoms_bridge.domain.dispatch import Organisation, Strategy, choose
from eoms_bridge.domain.errors import IllegalTransitionError
from eoms_bridge.domain.ticket import OPEN_STATES, Actor, Ticket, TicketAction
from eoms_bridge.models import dispatch_cursors, tickets

#: Who dispatches a node automatically when it is entered.
DISPATCH = Actor.system("dispatch")
_OPEN = [s.value for s in OPEN_STATES if s.value != "held"]


async def on_node_entered(session: AsyncSession, org: Organisation | None, t: Ticket, *, region: str | None,
                          now: datetime, dispatch: bool = True) -> list[dom.DomainEvent]:
    """The ticket has just entered its current node (opened, moved on, sent back): record the node's partner
    (a ``partner_si`` node) and, with ``dispatch``, dispatch it when its role is dispatched automatically and
    someone is on duty; otherwise it waits in its role's queue. Nothing without an organisation. A ticket
    forwarded to an external EOMS is not dispatched here (``dispatch=False``): that EOMS assigns its people."""
    node, visit = t.node, t.visit
    if org is None or node is None or visit is None or visit.assignee is not None or visit.entered_at != now:
        return []
    if node.role is NodeRole.PARTNER_SI:
        visit.partner = org.partner_of(t.business_type, node.name, region)
        return []
    rule = org.rule(node.role)
    if not dispatch or rule is None or not rule.auto:
        return []
    candidates = org.on_duty(node.role, region, now)
    if not candidates:
        return []
    person = await pick(session, rule.strategy, node.role, region, candidates)
    return t.dispatch(actor=DISPATCH, now=now, to=person)


async def dispatch_on_duty(session: AsyncSession, org: Organisation, t: Ticket, *, actor: Actor,
                           region: str | None, now: datetime) -> list[dom.DomainEvent]:
    """Dispatch the unclaimed current node now to the on-duty person of its role in ``region`` (the role's
    strategy, round robin without a rule): what happens on entering a node, asked for by a dispatcher.
    ``Invalid`` (422) when nobody is on duty for the role there."""
    node = t.node
    if node is None or TicketAction.REASSIGN not in t.allowed_actions():
        raise IllegalTransitionError(f"ticket {t.id}: cannot dispatch in state {t.state.value}",
                                     from_state=t.state.value, action="dispatch")
    candidates = org.on_duty(node.role, region, now)
    if not candidates:
        raise Invalid(f"nobody is on duty for role {node.role.value!r} in region {region or '-'!r}", field="unit")
    rule = org.rule(node.role)
    person = await pick(session, rule.strategy if rule else Strategy.ROUND_ROBIN, node.role, region, candidates)
    return t.dispatch(actor=actor, now=now, to=person)


async def dispatch_to_unit(session: AsyncSession, org: Organisation, t: Ticket, *, unit: str, actor: Actor,
                           region: str | None, now: datetime) -> list[dom.DomainEvent]:
    """Hand the current node to a unit (department): one of its people holding the node's role, the
    on-duty ones first, picked by the role's strategy. ``Invalid`` (422 on ``to_unit``) for an unknown
    unit or one with nobody holding the role."""
    node, visit = t.node, t.visit
    if node is None or visit is None or TicketAction.REASSIGN not in t.allowed_actions():
        raise IllegalTransitionError(f"ticket {t.id}: cannot reassign in state {t.state.value}",
                                     from_state=t.state.value, action=TicketAction.REASSIGN.value)
    if org.department(unit) is None:
        raise Invalid(f"unknown unit {unit!r}", field="to_unit")
    members = org.members(unit, node.role)
    if not members:
        raise Invalid(f"nobody in unit {unit!r} holds the node's role {node.role.value!r}", field="to_unit")
    on_duty = set(org.on_duty(node.role, region, now))
    candidates = [m for m in members if m in on_duty] or members
    candidates = [m for m in candidates if m != visit.assignee] or candidates
    rule = org.rule(node.role)
    person = await pick(session, rule.strategy if rule else Strategy.ROUND_ROBIN, node.role, region, candidates)
    if visit.assignee is None:
        return t.dispatch(actor=actor, now=now, to=person, unit=unit)
    return t.reassign(actor=actor, now=now, to=Actor.person(person, node.role), unit=unit)


async def pick(session: AsyncSession, strategy: Strategy, role: NodeRole, region: str | None,
               candidates: Sequence[str]) -> str:
    """One of ``candidates`` by ``strategy``; moves the (role, region) round-robin cursor, under its row lock."""
    key = {"role": role.value, "region": region or ""}
    await session.execute(insert(dispatch_cursors).values(**key, last_assignee=None).on_conflict_do_nothing())
    c = dispatch_cursors.c
    last = (await session.execute(
        select(c.last_assignee).where(c.role == key["role"], c.region == key["region"]).with_for_update())).scalar()
    load: dict[str, int] = {}
    if strategy is Strategy.LEAST_LOADED:
        load = await open_tasks(session, candidates)
    person = choose(strategy, candidates, last=last, load=load)
    assert person is not None  # candidates is not empty
    await session.execute(update(dispatch_cursors).where(c.role == key["role"], c.region == key["region"])
                          .values(last_assignee=person, updated_at=func.now()))
    return person


async def open_tasks(session: AsyncSession, people: Sequence[str]) -> dict[str, int]:
    """Open node tasks assigned to each of ``people`` (the partial index on open assigned tickets)."""
    rows = (await session.execute(
        select(tickets.c.assignee, func.count()).where(tickets.c.assignee.in_(list(people)),
                                                       tickets.c.state.in_(_OPEN))
        .group_by(tickets.c.assignee))).all()
    return {r[0]: int(r[1]) for r in rows}
