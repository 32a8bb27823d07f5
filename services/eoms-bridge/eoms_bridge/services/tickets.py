"""Ticket use cases: each runs in the caller's transaction, drives the domain Ticket and writes the
state, the audit trail and the `eoms.ticket.*` events (outbox) together."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_json, to_jsonable_python
from sqlalchemy import Select, Table, cast, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from backbone import events as wire
from backbone.arrays import json_recordset, json_rows, table_columns
from backbone.envelope import Envelope
from backbone.errors import Invalid
from backbone.events import ComplaintCreated, OrderSubmitted
from backbone.ids import new_id
from backbone.outbox import binding_of, emit, rows_insert, rows_params
from backbone.vocabulary import GENERIC_COMPLAINT, TicketKind
from eoms_bridge.domain import events as dom
from eoms_bridge.domain.dispatch import Organisation, Strategy
from eoms_bridge.domain.errors import (
    IllegalTransitionError,
    StaleTicketError,
    TicketNotFoundError,
)
from eoms_bridge.domain.routing import complaint_business_types, initial_tickets, tickets_to_open
from eoms_bridge.domain.ticket import OPEN_STATES, Actor, Ticket, TicketAction, TicketState
from eoms_bridge.domain.workflow import WorkflowDefinition
from eoms_bridge.models import ticket_history, tickets
from eoms_bridge.services import assignment, forwarding
from eoms_bridge.services.snapshot import from_snapshot, to_snapshot
from eoms_bridge.services.workflows import WorkflowStore, first_latest

log = logging.getLogger("eoms_bridge.tickets")

CRM = Actor.system("crm")
TIER_SEVERITY = {"A": "major", "B": "moderate", "C": "minor"}
RESOLVED_STATES = frozenset({TicketState.RESOLVED.value, TicketState.CLOSED.value})


@dataclass(frozen=True)
class Origin:
    """Where a ticket comes from: the CRM order item or complaint, and the customer."""

    origin: str  # "order" | "complaint"
    origin_id: str
    origin_item_id: str
    customer_id: str
    customer_name: str
    customer_tier: str
    account_manager_id: str
    severity: str | None = None
    description: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    customer_region: str | None = None

    @classmethod
    def of_row(cls, row: RowMapping) -> Origin:
        return cls(**{k: row[k] for k in (
            "origin", "origin_id", "origin_item_id", "customer_id", "customer_name", "customer_tier",
            "account_manager_id", "severity", "description", "data", "customer_region")})


# ------------------------------------------------------------------ opening

# Prebuilt hot-path statements (executed with parameters): building them per ticket was measurable.
_TICKET_COLUMNS = ("id", "kind", "business_type", "origin", "origin_id", "origin_item_id", "customer_id",
                   "customer_name", "customer_tier", "account_manager_id", "customer_region", "workflow_id",
                   "workflow_version", "state", "current_node", "current_role", "assignee", "partner", "eoms_partner",
                   "node_entered_at", "severity", "description", "data", "snapshot", "created_at", "updated_at",
                   "version")
#: The ticket's JSONB columns: each run's values travel as one text array each beside the JSON rows (`texts`).
_TICKET_JSON = ("data", "snapshot")
# The tickets of a run as one JSON document (`backbone.arrays.json_recordset`): one statement text whatever the run's
# length, prepared once, and one string serialised in pydantic's core where asyncpg encoded 27 arrays element by
# element (issue 16: the bridge's largest share of client CPU per order after the events' envelopes).
_TICKET_ROWS = json_recordset(table_columns(tickets, [c for c in _TICKET_COLUMNS if c not in _TICKET_JSON]),
                              param="ticket_rows", name="ticket_rows", texts=_TICKET_JSON)
_INSERT_TICKETS = (insert(tickets).from_select(
    list(_TICKET_COLUMNS),
    select(*(cast(_TICKET_ROWS.c[c], JSONB) if c in _TICKET_JSON else _TICKET_ROWS.c[c] for c in _TICKET_COLUMNS))
    .order_by(_TICKET_ROWS.c.ordinality))
    .on_conflict_do_nothing(constraint="uq_eoms_tickets_origin_kind").returning(tickets.c.id))
_INSERT_HISTORY = ticket_history.insert()
_HISTORY_COLUMNS = ("ticket_id", "event_type", "node", "role", "outcome", "from_state", "to_state", "actor", "note",
                    "at")
_HISTORY_ROWS = json_recordset(table_columns(ticket_history, _HISTORY_COLUMNS), param="history_rows",
                               name="history_rows")


@functools.cache
def _insert_tickets_history_and_events(outbox: Table) -> Select[Any]:
    """A run's tickets, and in the same statement the history rows and the events of those that were new: the
    tickets' insert (`_INSERT_TICKETS`, ON CONFLICT on the origin key) a data-modifying CTE whose RETURNING the
    history's and the outbox's inserts (`backbone.arrays`, `backbone.outbox.rows_insert`) filter on (the events by
    their key, the ticket id): one statement per run where there were two (the tickets, then history and events).
    Returns the new tickets' ids. Parameters: the tickets' and the history's `json_rows` and `rows_params`. Built
    once per outbox."""
    new = _INSERT_TICKETS.cte("new_tickets")
    events = rows_insert(outbox)
    assert events.select is not None
    history_rows = (select(*(_HISTORY_ROWS.c[c] for c in _HISTORY_COLUMNS))
                    .where(_HISTORY_ROWS.c.ticket_id.in_(select(new.c.id))).order_by(_HISTORY_ROWS.c.ordinality))
    event_rows = events.select.where(events.select.selected_columns.key.in_(select(new.c.id)))
    return select(new.c.id).add_cte(
        ticket_history.insert().from_select(list(_HISTORY_COLUMNS), history_rows).cte("new_history"),
        outbox.insert().from_select(list(events.select.selected_columns.keys()), event_rows).cte("new_events"))


async def open_tickets_for_order(
    session: AsyncSession, *, store: WorkflowStore, order: OrderSubmitted, now: datetime, forward: bool = False,
    org: Organisation | None = None, eoms_partner: str | None = None,
) -> list[str]:
    """Per order item: the latest workflow of its business type, its initial tickets (no dependencies).

    Idempotent: a ticket already opened for (order, item, kind) is skipped (unique key). With `org`, each
    entered node gets its partner and is dispatched (`services/assignment.py`); with `forward`, the
    ticket records `eoms_partner`, the external EOMS whose signed callbacks may act on it.
    """
    return await open_tickets_for_orders(session, store=store, orders=[(order, None)], now=now, forward=forward,
                                         org=org, eoms_partner=eoms_partner)


async def open_tickets_for_orders(
    session: AsyncSession, *, store: WorkflowStore, orders: Sequence[tuple[OrderSubmitted, str | None]],
    now: datetime, forward: bool = False, org: Organisation | None = None, eoms_partner: str | None = None,
) -> list[str]:
    """`open_tickets_for_order` for a run of orders (each with the correlation id of its event; None: the
    current one) in a few statements whatever their number: one multi-row insert of the tickets, one of
    their history, one of their events (the bridge's consumer applies a partition's run this way)."""
    prepared: list[_Prepared] = []
    opened: list[str] = []
    # A least-loaded dispatch counts the open tickets assigned to its candidates in the table: a ticket of
    # this run that was assigned must be stored before the next one is opened (it may count it). Tickets
    # left unassigned count for nobody: they wait, and the run is stored in one statement each at the end.
    counts_load = org is not None and any(r.auto and r.strategy is Strategy.LEAST_LOADED for r in org.dispatch)
    kinds: dict[tuple[str, int], list[TicketKind]] = {}  # a workflow's initial tickets, worked out once per run
    for order, correlation_id in orders:
        for item in order.items:
            wf = await store.latest(session, item.business_type)
            if (initial := kinds.get((wf.id, wf.version))) is None:
                initial = kinds[(wf.id, wf.version)] = initial_tickets(wf)
            origin = Origin(
                origin="order", origin_id=order.order_id, origin_item_id=item.item_id, customer_id=order.customer_id,
                customer_name=order.customer_name, customer_tier=order.customer_tier,
                account_manager_id=order.account_manager_id, severity=TIER_SEVERITY.get(order.customer_tier),
                description=f"{wf.title_zh or wf.business_type} ({order.customer_name})",
                data={"product": item.product, "business_kind": item.business_kind, "channel": order.channel,
                      "attributes": item.attributes},
                customer_region=order.customer_region,
            )
            for kind in initial:
                if counts_load and any(p.row["assignee"] is not None for p in prepared):
                    opened += await _store(session, prepared, forward=forward)
                    prepared = []
                prepared.append(await _prepare(session, wf=wf, kind=kind, origin=origin, now=now, forward=forward,
                                               org=org, eoms_partner=eoms_partner, correlation_id=correlation_id))
    return opened + await _store(session, prepared, forward=forward)


async def open_ticket_for_complaint(
    session: AsyncSession, *, store: WorkflowStore, complaint: ComplaintCreated, now: datetime,
    generic_business_type: str = GENERIC_COMPLAINT, forward: bool = False, org: Organisation | None = None,
    eoms_partner: str | None = None,
) -> list[str]:
    """`<product>.complaint`; without a product (or without a workflow for it), the generic complaint
    workflow: triage at the complaint desk, then routed by the complaint's category."""
    wf = await first_latest(session, store, complaint_business_types(complaint.product, generic_business_type),
                            what=f"complaint {complaint.complaint_id}")
    origin = Origin(
        origin="complaint", origin_id=complaint.complaint_id, origin_item_id=complaint.complaint_id,
        customer_id=complaint.customer_id, customer_name=complaint.customer_name,
        customer_tier=complaint.customer_tier, account_manager_id=complaint.account_manager_id,
        severity=complaint.severity, description=complaint.description,
        data={"category": complaint.category, "product": complaint.product},
        customer_region=complaint.customer_region,
    )
    created = []
    for kind in initial_tickets(wf):
        tid = await _open(session, wf=wf, kind=kind, origin=origin, now=now, forward=forward, org=org,
                          eoms_partner=eoms_partner)
        if tid:
            created.append(tid)
    return created


@dataclass
class _Prepared:
    """A ticket opened in memory (its domain events, its row), not stored yet."""

    ticket: Ticket
    origin: Origin
    wf: WorkflowDefinition
    events: list[dom.DomainEvent]
    row: dict[str, Any]
    correlation_id: str | None = None


async def _open(
    session: AsyncSession, *, wf: WorkflowDefinition, kind: TicketKind, origin: Origin, now: datetime,
    forward: bool, org: Organisation | None = None, eoms_partner: str | None = None, actor: Actor = CRM,
) -> str | None:
    opened = await _store(session, [await _prepare(session, wf=wf, kind=kind, origin=origin, now=now, forward=forward,
                                                   org=org, eoms_partner=eoms_partner, actor=actor)], forward=forward)
    return opened[0] if opened else None


async def _prepare(
    session: AsyncSession, *, wf: WorkflowDefinition, kind: TicketKind, origin: Origin, now: datetime,
    forward: bool, org: Organisation | None = None, eoms_partner: str | None = None, actor: Actor = CRM,
    correlation_id: str | None = None,
) -> _Prepared:
    ticket, events = Ticket.open(
        ticket_id=new_id("tkt"), workflow=wf, kind=kind, subject_id=origin.origin_id, now=now, actor=actor,
        customer_tier=origin.customer_tier,
    )
    node, visit = ticket.node, ticket.visit
    assert node is not None and visit is not None
    events += await assignment.on_node_entered(session, org, ticket, region=origin.customer_region, now=now,
                                               dispatch=not forward)
    row = {
        "id": ticket.id, "kind": kind.value, "business_type": wf.business_type, "origin": origin.origin,
        "origin_id": origin.origin_id, "origin_item_id": origin.origin_item_id, "customer_id": origin.customer_id,
        "customer_name": origin.customer_name, "customer_tier": origin.customer_tier,
        "account_manager_id": origin.account_manager_id, "customer_region": origin.customer_region,
        "workflow_id": wf.id, "workflow_version": wf.version, "state": ticket.state.value,
        "current_node": node.name, "current_role": node.role.value, "assignee": visit.assignee,
        "partner": visit.partner, "eoms_partner": eoms_partner if forward else None,
        "node_entered_at": now, "severity": origin.severity, "description": origin.description, "data": origin.data,
        "snapshot": to_snapshot(ticket), "created_at": now, "updated_at": now, "version": 1,
    }
    return _Prepared(ticket, origin, wf, events, row, correlation_id)


async def _store(session: AsyncSession, prepared: Sequence[_Prepared], *, forward: bool) -> list[str]:
    """Insert the tickets, and the history and the events of those that were new, in one statement; a ticket
    already opened for its (origin, item, kind) is skipped (redelivery, or another consumer group got there first).
    Returns the new tickets' ids, in order."""
    if not prepared:
        return []
    # Every ticket's history and events go with it; those of a ticket that was not new are left out by the statement.
    history = [_history_row(e) for p in prepared for e in p.events]
    source = binding_of(session).source
    envelopes = [Envelope.wrap_data(kind, data, source=source, subject=p.ticket.id, correlation_id=p.correlation_id)
                 for p in prepared for kind, data in wire_data(p.ticket, p.origin, p.events)]
    ticket_rows = [{**p.row, **{c: to_json(p.row[c]).decode() for c in _TICKET_JSON}} for p in prepared]
    params = {**json_rows(ticket_rows, param="ticket_rows", texts=_TICKET_JSON),
              **json_rows(history, param="history_rows"), **rows_params(session, envelopes)}
    statement = _insert_tickets_history_and_events(binding_of(session).table)
    new: set[str] = set((await session.execute(statement, params)).scalars())
    opened = [p for p in prepared if p.ticket.id in new]
    if forward:
        for p in opened:
            await forwarding.enqueue(session, ticket_id=p.ticket.id, message_type="ticket.created",
                                     payload=_forward_payload(p.ticket, p.origin, p.wf))
    return [p.ticket.id for p in opened]


def _forward_payload(t: Ticket, origin: Origin, wf: WorkflowDefinition) -> dict[str, Any]:
    return {
        "ticket_id": t.id, "ticket_kind": t.kind.value, "business_type": t.business_type,
        "workflow_id": wf.id, "workflow_version": wf.version, "state": t.state.value, "node": t.current_node,
        "created_at": t.created_at.isoformat(), "origin": origin.origin, "origin_id": origin.origin_id,
        "origin_item_id": origin.origin_item_id, "customer_id": origin.customer_id,
        "customer_name": origin.customer_name, "customer_tier": origin.customer_tier,
        "account_manager_id": origin.account_manager_id, "severity": origin.severity,
        "description": origin.description, "data": origin.data,
    }


# ------------------------------------------------------------------ actions


async def act(
    session: AsyncSession, *, store: WorkflowStore, ticket_id: str, action: TicketAction, actor: Actor,
    now: datetime, outcome: str | None = None, data: Mapping[str, Any] | None = None, reason: str | None = None,
    to: Actor | None = None, expected_version: int | None = None, forward: bool = False,
    account_manager: str | None = None, partner: str | None = None, org: Organisation | None = None,
    to_unit: str | None = None, eoms_partner: str | None = None, dispatch: bool = False,
) -> RowMapping:
    """Apply one action to a ticket under a row lock; returns the stored row after the change.

    Concurrent actions on one ticket serialize on the lock, so of two simultaneous claims the second
    sees the node taken and fails with IllegalTransitionError (409). With `account_manager` (an account
    manager's own customers) or `partner` (a partner user: the tickets whose current node is its
    partner's), any other ticket is not found: its existence is not disclosed. With `org`, a node the
    action enters gets its partner and is dispatched; `to_unit` reassigns to a unit (department);
    `dispatch` (with REASSIGN) dispatches the unclaimed node to the on-duty person (or of `to_unit`).
    """
    row = (await session.execute(
        select(tickets).where(tickets.c.id == ticket_id).with_for_update())).mappings().first()
    if (row is None or (account_manager is not None and row["account_manager_id"] != account_manager)
            or (partner is not None and row["partner"] != partner)):
        raise TicketNotFoundError(f"ticket {ticket_id} not found")
    if expected_version is not None and expected_version != row["version"]:
        raise StaleTicketError(f"ticket {ticket_id} is at version {row['version']}, not {expected_version}")
    wf = await store.get(session, row["workflow_id"], row["workflow_version"])
    t = from_snapshot(row["snapshot"], wf)
    origin = Origin.of_row(row)
    if action is TicketAction.REASSIGN and (to_unit is not None or dispatch):
        if org is None:
            raise Invalid("no organisation is loaded: reassign to a person", field="to_unit")
        if to_unit is not None:
            events = await assignment.dispatch_to_unit(session, org, t, unit=to_unit, actor=actor,
                                                       region=origin.customer_region, now=now)
        else:
            events = await assignment.dispatch_on_duty(session, org, t, actor=actor, region=origin.customer_region,
                                                       now=now)
    else:
        events = _dispatch(t, action, actor=actor, now=now, outcome=outcome, data=data, reason=reason, to=to)
    if any(isinstance(e, dom.NodeEntered) for e in events):
        events += await assignment.on_node_entered(session, org, t, region=origin.customer_region, now=now,
                                                   dispatch=row["eoms_partner"] is None)
    visit = t.visit
    node = t.node
    updated = (await session.execute(
        update(tickets).where(tickets.c.id == ticket_id, tickets.c.version == row["version"])
        .values(state=t.state.value, current_node=t.current_node, current_role=node.role.value if node else None,
                assignee=t.assignee, node_entered_at=visit.entered_at if visit else None, snapshot=to_snapshot(t),
                partner=visit.partner if visit else None,
                updated_at=now, version=tickets.c.version + 1)
        .returning(*tickets.c)
    )).mappings().first()
    if updated is None:  # pragma: no cover - the row lock makes this unreachable; kept as the invariant
        raise StaleTicketError(f"ticket {ticket_id} changed concurrently")
    await _record(session, t, origin, events)
    if t.state is TicketState.RESOLVED and action is TicketAction.COMPLETE:
        await _open_unblocked(session, wf=wf, origin=origin, now=now, forward=forward, org=org,
                              eoms_partner=eoms_partner)
    if forward and t.state is TicketState.CANCELLED and not _from_the_eoms(actor):
        await forwarding.enqueue(session, ticket_id=t.id, message_type="ticket.cancelled",
                                 payload={"ticket_id": t.id, "reason": t.reason, "cancelled_at": now.isoformat()})
    return updated


def _from_the_eoms(actor: Actor) -> bool:
    """An action the external EOMS itself reported (a signed callback: `eoms:<partner>`): not sent back."""
    return actor.is_system and (actor.id == "eoms" or actor.id.startswith("eoms:"))


def _dispatch(
    t: Ticket, action: TicketAction, *, actor: Actor, now: datetime, outcome: str | None,
    data: Mapping[str, Any] | None, reason: str | None, to: Actor | None,
) -> list[dom.DomainEvent]:
    match action:
        case TicketAction.ACCEPT:
            return t.accept(actor=actor, now=now)
        case TicketAction.COMPLETE:
            return t.complete(actor=actor, now=now, outcome=outcome or "", data=data)
        case TicketAction.RETURN:
            return t.return_(actor=actor, now=now, reason=reason or "")
        case TicketAction.SUSPEND:
            return t.suspend(actor=actor, now=now, reason=reason or "")
        case TicketAction.RESUME:
            return t.resume(actor=actor, now=now)
        case TicketAction.REASSIGN:
            if to is None:
                raise Invalid("reassign needs the new assignee", field="to")
            return t.reassign(actor=actor, now=now, to=to)
        case TicketAction.HOLD:
            return t.hold(actor=actor, now=now, reason=reason or "")
        case TicketAction.RELEASE:
            return t.release(actor=actor, now=now)
        case TicketAction.CANCEL:
            return t.cancel(actor=actor, now=now, reason=reason or "cancelled")
        case TicketAction.CLOSE:
            return t.close(actor=actor, now=now)
    raise ValueError(action)  # pragma: no cover


async def _open_unblocked(
    session: AsyncSession, *, wf: WorkflowDefinition, origin: Origin, now: datetime, forward: bool,
    org: Organisation | None = None, eoms_partner: str | None = None,
) -> None:
    """A resolved ticket may unblock others of the same order item (reservation after confirmation,
    opening after reservation); they open on the same workflow version."""
    siblings = (await session.execute(
        select(tickets.c.kind, tickets.c.state)
        .where(tickets.c.origin_id == origin.origin_id, tickets.c.origin_item_id == origin.origin_item_id)
    )).all()
    resolved = [s.kind for s in siblings if s.state in RESOLVED_STATES]
    for kind in tickets_to_open(wf, resolved, [s.kind for s in siblings]):
        await _open(session, wf=wf, kind=kind, origin=origin, now=now, forward=forward, org=org,
                    eoms_partner=eoms_partner)


async def cancel_tickets_for_order(
    session: AsyncSession, *, store: WorkflowStore, order_id: str, reason: str, now: datetime,
    forward: bool = False,
) -> list[str]:
    """The CRM cancelled the order: cancel its open tickets (resolved ones stay as they are)."""
    ids = (await session.execute(
        select(tickets.c.id).where(tickets.c.origin == "order", tickets.c.origin_id == order_id,
                                   tickets.c.state.in_([s.value for s in OPEN_STATES]))
        .order_by(tickets.c.id)
    )).scalars().all()
    cancelled = []
    for tid in ids:
        try:
            await act(session, store=store, ticket_id=tid, action=TicketAction.CANCEL, actor=CRM, now=now,
                      reason=reason, forward=forward)
        except IllegalTransitionError:
            # Resolved or rejected between the query and the row lock: nothing left to cancel (retrying
            # would fail the same way, then dead-letter a valid cancellation).
            continue
        cancelled.append(tid)
    return cancelled


# ------------------------------------------------------------------ events


def _context(t: Ticket, origin: Origin) -> dict[str, Any]:
    return {
        "ticket_id": t.id, "ticket_kind": t.kind.value, "business_type": t.business_type, "origin": origin.origin,
        "origin_id": origin.origin_id, "customer_id": origin.customer_id, "customer_name": origin.customer_name,
        "customer_tier": origin.customer_tier, "account_manager_id": origin.account_manager_id,
        "workflow_id": t.workflow_id, "workflow_version": t.workflow_version, "customer_region": origin.customer_region,
    }


def wire_events(t: Ticket, origin: Origin, events: Sequence[dom.DomainEvent]) -> list[BaseModel]:
    """Domain events → the suite's `eoms.ticket.*` payloads (each carrying the ticket context)."""
    ctx = _context(t, origin)
    out: list[BaseModel] = []

    def role_of(node: str | None) -> str | None:
        return t.definition.node(node).role.value if node and t.definition.has_node(node) else None

    def cur() -> dict[str, Any]:
        return {"node": t.current_node, "role": role_of(t.current_node), "assignee": t.assignee}

    for e in events:
        match e:
            case dom.TicketCreated():
                start = t.history[0]
                out.append(wire.TicketCreated(**ctx, state=TicketState.ACKNOWLEDGED.value, node=start.node,
                                              role=start.role.value, created_at=e.occurred_at))
            case dom.NodeEntered():
                via = next((v.entered_via for v in reversed(t.history) if v.node == e.node), None)
                out.append(wire.TicketNodeEntered(**ctx, node=e.node, role=e.role, entered_at=e.occurred_at,
                                                  entered_via=via))
            case dom.NodeCompleted():
                out.append(wire.TicketNodeCompleted(
                    **ctx, node=e.node, role=role_of(e.node) or "", assignee=e.actor_id, outcome=e.outcome,
                    completed_at=e.occurred_at, next_node=e.next_node, data=e.data))
            case dom.NodeReturned():
                role = role_of(e.node) or ""
                # The node is left: SLA stops its timer on node_completed, so say it that way too.
                out.append(wire.TicketNodeCompleted(**ctx, node=e.node, role=role, assignee=e.actor_id,
                                                    outcome="$return", completed_at=e.occurred_at,
                                                    next_node=e.to_node, data={"reason": e.reason}))
                out.append(wire.TicketNodeReturned(**ctx, node=e.node, role=role, assignee=e.actor_id,
                                                   to_node=e.to_node, reason=e.reason, returned_at=e.occurred_at))
            case dom.NodeAssigned():
                out.append(wire.TicketNodeAssigned(**ctx, node=e.node, role=e.role, assignee=e.assignee,
                                                   previous_assignee=e.previous_assignee, assigned_at=e.occurred_at,
                                                   how=e.how, assignee_unit=e.assignee_unit))
            case dom.StateChanged():
                out.append(wire.TicketStateChanged(
                    **ctx, from_state=e.from_state, to_state=e.to_state, node=e.node, reason=e.reason,
                    changed_at=e.occurred_at, role=role_of(e.node), assignee=t.assignee, sla_paused=e.sla_paused))
            case dom.TicketResolved():
                out.append(wire.TicketResolved(**ctx, resolution="resolved", resolved_at=e.occurred_at,
                                               node=e.last_node, role=role_of(e.last_node), assignee=e.actor_id,
                                               outcome=e.outcome))
            case dom.TicketRejected():
                out.append(wire.TicketResolved(**ctx, resolution="rejected", reason=e.reason,
                                               resolved_at=e.occurred_at, node=e.last_node,
                                               role=role_of(e.last_node), assignee=e.actor_id, outcome=e.outcome))
            case dom.TicketCancelled():
                last = t.history[-1] if t.history else None
                if last is not None and last.outcome == "$cancelled" and last.left_at == e.occurred_at:
                    out.append(wire.TicketNodeCompleted(
                        **ctx, node=last.node, role=last.role.value, assignee=last.assignee, outcome="$cancelled",
                        completed_at=e.occurred_at, data={"reason": e.reason}))
                out.append(wire.TicketClosed(**ctx, final_state=TicketState.CANCELLED.value, closed_at=e.occurred_at,
                                             reason=e.reason, node=last.node if last else None,
                                             role=last.role.value if last else None))
            case dom.TicketClosed():
                out.append(wire.TicketClosed(**ctx, final_state=TicketState.CLOSED.value, closed_at=e.occurred_at,
                                             **cur()))
    return out


def wire_data(
    t: Ticket, origin: Origin, events: Sequence[dom.DomainEvent],
) -> list[tuple[type[BaseModel], dict[str, Any]]]:
    """`wire_events` as (payload type, its JSON form: `model_dump(mode="json")`) for `Envelope.wrap_data`. A ticket's
    opening events (created, node entered: two per order) are built as that form directly, without the two models
    and their dumps (issue 16: ~30 us per ticket in process); any other event through its model. A test holds the
    forms to the models' dumps."""
    out: list[tuple[type[BaseModel], dict[str, Any]]] = []
    ctx: dict[str, Any] | None = None
    for e in events:
        match e:
            case dom.TicketCreated():
                ctx = ctx or _context(t, origin)
                start = t.history[0]
                out.append((wire.TicketCreated, {
                    **ctx, "state": TicketState.ACKNOWLEDGED.value, "node": start.node, "role": start.role.value,
                    "assignee": None, "created_at": to_jsonable_python(e.occurred_at)}))
            case dom.NodeEntered():
                ctx = ctx or _context(t, origin)
                via = next((v.entered_via for v in reversed(t.history) if v.node == e.node), None)
                out.append((wire.TicketNodeEntered, {
                    **ctx, "node": e.node, "role": e.role, "assignee": None,
                    "entered_at": to_jsonable_python(e.occurred_at), "entered_via": via}))
            case _:
                out += [(type(m), m.model_dump(mode="json")) for m in wire_events(t, origin, [e])]
    return out


def _history_row(e: dom.DomainEvent) -> dict[str, Any]:
    # Same keys in every row: the rows go in as one executemany.
    row: dict[str, Any] = {"ticket_id": e.ticket_id, "event_type": e.event_type, "actor": e.actor_id,
                           "at": e.occurred_at, "node": None, "role": None, "outcome": None, "from_state": None,
                           "to_state": None, "note": None}
    match e:
        case dom.NodeEntered():
            row.update(node=e.node, role=e.role)
        case dom.NodeCompleted():
            row.update(node=e.node, outcome=e.outcome, note=f"-> {e.next_node}")
        case dom.NodeReturned():
            row.update(node=e.node, outcome="$return", note=f"-> {e.to_node}: {e.reason}")
        case dom.NodeAssigned():
            unit = f" (unit {e.assignee_unit})" if e.assignee_unit else ""
            row.update(node=e.node, role=e.role,
                       note=f"{e.how}: assignee {e.previous_assignee or '-'} -> {e.assignee}{unit}")
        case dom.StateChanged():
            row.update(node=e.node, from_state=e.from_state, to_state=e.to_state, note=e.reason)
        case dom.TicketResolved():
            row.update(node=e.last_node, outcome=e.outcome)
        case dom.TicketRejected():
            row.update(node=e.last_node, outcome=e.outcome, note=e.reason)
        case dom.TicketCancelled():
            row.update(note=e.reason)
        case dom.TicketCreated():
            row.update(to_state=TicketState.ACKNOWLEDGED.value, note=f"{e.workflow_id} v{e.workflow_version}")
    return row


async def _record(session: AsyncSession, t: Ticket, origin: Origin, events: Sequence[dom.DomainEvent]) -> None:
    if not events:
        return
    await session.execute(_INSERT_HISTORY, [_history_row(e) for e in events])
    await emit(session, *wire_events(t, origin, events), subject=t.id)
