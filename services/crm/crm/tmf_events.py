"""The CRM's TMF events for hub subscribers: domain event → TMF622 (and TMF621 complaint) event bodies.

The first half is pure (an envelope and plain values in, `HubEvent`s out, unit tested against the official
TMF622 event definitions); the second half are the consumer-side mappers that read what an event lacks
(an order's items, a ticket's order) and hand the pure functions plain values.

- `crm.order.submitted` → `productOrderCreateEvent` (state acknowledged);
- `crm.order.status_changed` → `productOrderStateChangeEvent` when the TMF state changes
  (cancellationReason and cancellationDate on a cancel);
- `sla.warning` / `sla.breached` / `sla.escalated` on a ticket of an order → extension
  `productOrderJeopardyAlertEvent`;
- `eoms.ticket.resolved` of an order's ticket → extension `productOrderMilestoneEvent`;
- `crm.order.updated` (TMF622 PATCH) → `productOrderAttributeValueChangeEvent` (the changed attributes named);
- `crm.order.discarded` (TMF622 DELETE of a draft) → `productOrderDeleteEvent` (the order as it was, from the
  event's own items: its rows are gone);
- `crm.order.information_required` → `productOrderInformationRequiredEvent` (state pending, `fieldPath` the TMF622
  paths of the missing fields, comma-separated), preceded by the order's `productOrderCreateEvent` (state
  pending) when the order was just captured; its later `crm.order.submitted` then maps to nothing (it was
  announced); `crm.order.information_provided` → `productOrderStateChangeEvent` (pending → acknowledged);
- `crm.order.cancellation_information_required` → `cancelProductOrderInformationRequiredEvent` (task state
  acknowledged, `fieldPath`);
- `crm.order.cancellation_requested` → `cancelProductOrderCreateEvent`; `crm.order.cancellation_state_changed`
  → `cancelProductOrderStateChangeEvent` (TaskStateType: inProgress, done, terminatedWithError with the reason)
  and the order's `productOrderStateChangeEvent` (assessingCancellation → pendingCancellation → cancelled, or
  back to its own state when refused); all keyed by the order, so they stay in order with the order's own
  events. The order's own `crm.order.status_changed` to cancelled, which a cancelProductOrder causes, is then
  not mapped (its TMF state is pendingCancellation until the request is done);
- `crm.complaint.created` / `crm.complaint.status_changed` → `troubleTicketCreateEvent` /
  `troubleTicketStatusChangeEvent` (+ `troubleTicketResolvedEvent`) on the CRM's troubleTicket/v4 hub.

Event ids are `hub_event_id(source event id, TMF event type)`: a redelivered source event carries the same
eventId; `eventTime` is the source event's time, `timeOcurred` the domain's time of the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.envelope import Envelope
from backbone.events import (
    AlertContext,
    ComplaintCreated,
    ComplaintStatusChanged,
    OrderCancellationInformationRequired,
    OrderCancellationRequested,
    OrderCancellationStateChanged,
    OrderDiscarded,
    OrderInformationProvided,
    OrderInformationRequired,
    OrderStatusChanged,
    OrderSubmitted,
    OrderUpdated,
    SlaBreached,
    SlaEscalated,
    SlaWarning,
    TicketResolved,
)
from backbone.hub.fanout import Mapper, from_payload
from backbone.hub.model import HubEvent, HubTables, hub_event_id
from backbone.hub.service import HubApi
from crm.domain.cancellation import PENDING, TASK_STATE, CancellationState, tmf_order_state
from crm.domain.information import Missing, describe, field_path, tmf_field

ORDER_API = "productOrderingManagement/v4"
ORDER_HUB_BASE = "/tmf-api/productOrderingManagement/v4"
ORDER_BASE = f"{ORDER_HUB_BASE}/productOrder"
CANCEL_BASE = f"{ORDER_HUB_BASE}/cancelProductOrder"
TICKET_API = "troubleTicket/v4"
TICKET_HUB_BASE = "/tmf-api/troubleTicket/v4"
TICKET_BASE = f"{TICKET_HUB_BASE}/troubleTicket"

ORDER_CREATE = "productOrderCreateEvent"
ORDER_STATE_CHANGE = "productOrderStateChangeEvent"
ORDER_ATTRIBUTE_CHANGE = "productOrderAttributeValueChangeEvent"
ORDER_DELETE = "productOrderDeleteEvent"
ORDER_INFORMATION_REQUIRED = "productOrderInformationRequiredEvent"
CANCEL_CREATE = "cancelProductOrderCreateEvent"
CANCEL_STATE_CHANGE = "cancelProductOrderStateChangeEvent"
CANCEL_INFORMATION_REQUIRED = "cancelProductOrderInformationRequiredEvent"
ORDER_JEOPARDY = "productOrderJeopardyAlertEvent"  # extension (TMF622 v5 name)
ORDER_MILESTONE = "productOrderMilestoneEvent"  # extension (TMF622 v5 name)
ORDER_EVENT_TYPES = frozenset({
    ORDER_CREATE, ORDER_STATE_CHANGE, ORDER_ATTRIBUTE_CHANGE, ORDER_DELETE, ORDER_INFORMATION_REQUIRED,
    CANCEL_CREATE, CANCEL_STATE_CHANGE, CANCEL_INFORMATION_REQUIRED, ORDER_JEOPARDY, ORDER_MILESTONE,
})

TICKET_CREATE = "troubleTicketCreateEvent"
TICKET_STATUS_CHANGE = "troubleTicketStatusChangeEvent"
TICKET_RESOLVED = "troubleTicketResolvedEvent"
TICKET_ATTRIBUTE_CHANGE = "troubleTicketAttributeValueChangeEvent"
TICKET_EVENT_TYPES = frozenset({TICKET_CREATE, TICKET_STATUS_CHANGE, TICKET_RESOLVED, TICKET_ATTRIBUTE_CHANGE})

#: an order item's business kind → its TMF622 item action (states: crm.domain.cancellation.tmf_order_state)
KIND_TO_ACTION = {"opening": "add", "change": "modify", "cancellation": "delete"}
#: complaint status → TMF621 TroubleTicketStatusType (the CRM's troubleTicket API shows the same)
COMPLAINT_STATUS = {"created": "acknowledged", "dispatched": "inProgress", "resolved": "resolved",
                    "revisited": "resolved", "archived": "closed"}
JEOPARDY_PRIORITY = {"sla.warning": "medium", "sla.breached": "high", "sla.escalated": "critical"}


def order_hub(tables: HubTables) -> HubApi:
    return HubApi(ORDER_API, ORDER_HUB_BASE, ORDER_EVENT_TYPES, tables)


def ticket_hub(tables: HubTables) -> HubApi:
    return HubApi(TICKET_API, TICKET_HUB_BASE, TICKET_EVENT_TYPES, tables)


@dataclass(frozen=True)
class Item:
    """What a ProductOrderItem of an event needs: its id, action and product."""

    id: str
    business_kind: str
    product: str


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _notification(envelope: Envelope, event_type: str, *, occurred: datetime, title: str, description: str,
                  priority: str = "normal") -> dict[str, Any]:
    out: dict[str, Any] = {
        "eventId": str(hub_event_id(envelope.id, event_type)), "eventTime": _iso(envelope.time),
        "eventType": event_type,
    }
    if envelope.correlation_id:
        out["correlationId"] = envelope.correlation_id
    out.update({"domain": ORDER_API.split("/")[0] if event_type in ORDER_EVENT_TYPES else TICKET_API.split("/")[0],
                "title": title, "description": description, "priority": priority, "timeOcurred": _iso(occurred)})
    return out


def product_order(order_id: str, state: str, items: Sequence[Item], **extra: Any) -> dict[str, Any]:
    """A TMF622 ProductOrder as events carry it (absent fields omitted)."""
    order: dict[str, Any] = {
        "id": order_id, "href": f"{ORDER_BASE}/{order_id}", "state": state,
        "productOrderItem": [{
            "id": i.id, "action": KIND_TO_ACTION.get(i.business_kind, "add"), "state": state,
            "product": {"productSpecification": {"id": i.product, "href": f"/api/v1/products/{i.product}"}},
            "@type": "ProductOrderItem",
        } for i in items],
    }
    order.update({k: v for k, v in extra.items() if v is not None})
    order["@type"] = "ProductOrder"
    return order


def _hub_event(envelope: Envelope, event_type: str, entity_id: str, body: dict[str, Any],
               **attributes: str) -> HubEvent:
    return HubEvent(hub_event_id(envelope.id, event_type), event_type, entity_id, envelope.id, body, attributes)


def order_created(envelope: Envelope, order: OrderSubmitted) -> HubEvent:
    items = [Item(i.item_id, i.business_kind, i.product) for i in order.items]
    state = "acknowledged"
    po = product_order(
        order.order_id, state, items, orderDate=_iso(order.submitted_at),
        channel=[{"id": order.channel, "name": order.channel}],
        relatedParty=[{"id": order.customer_id, "name": order.customer_name, "role": "customer",
                       "@referredType": "Organization"},
                      {"id": order.account_manager_id, "role": "accountManager", "@referredType": "Individual"}])
    body = _notification(envelope, ORDER_CREATE, occurred=order.submitted_at, title="Product order created",
                         description=f"product order {order.order_id} created ({state})")
    body["event"] = {"productOrder": po}
    return _hub_event(envelope, ORDER_CREATE, order.order_id, body, **{"productOrder.state": state})


def order_state_changed(envelope: Envelope, change: OrderStatusChanged, items: Sequence[Item]) -> HubEvent | None:
    """None when the TMF state stays the same (draft → submitted, → closed)."""
    if change.to_status == "closed":
        return None
    old, new = tmf_order_state(change.from_status), tmf_order_state(change.to_status)
    if old == new:
        return None
    extra: dict[str, Any] = {}
    if new == "cancelled":
        extra = {"cancellationReason": change.reason, "cancellationDate": _iso(change.changed_at)}
    elif new in ("completed", "rejected"):
        extra = {"completionDate": _iso(change.changed_at)}
    po = product_order(change.order_id, new, items, **extra)
    body = _notification(envelope, ORDER_STATE_CHANGE, occurred=change.changed_at,
                         title="Product order state changed",
                         description=f"product order {change.order_id}: {old} -> {new}"
                                     + (f" ({change.reason})" if change.reason else ""))
    body["event"] = {"productOrder": po}
    return _hub_event(envelope, ORDER_STATE_CHANGE, change.order_id, body, **{"productOrder.state": new})


def order_jeopardy(envelope: Envelope, alert: AlertContext, order_id: str, items: Sequence[Item]) -> HubEvent:
    """Extension (TMF622 v5 JeopardyAlert): the SLA warned, breached or escalated on a ticket of the order."""
    kind = envelope.type.removeprefix("sla.")
    alert_date = envelope.time
    message = {"warning": f"node {alert.node} of ticket {alert.ticket_id} nears its deadline",
               "breached": f"node {alert.node} of ticket {alert.ticket_id} missed its deadline",
               "escalated": f"node {alert.node} of ticket {alert.ticket_id} was escalated"}.get(kind, kind)
    if isinstance(alert, SlaEscalated):
        message += f" (level {alert.level} to {alert.escalate_to_role})"
    jeopardy = {"id": str(envelope.id), "name": f"sla.{kind}", "jeopardyType": kind, "alertDate": _iso(alert_date),
                "message": message, "exception": "deadline " + _iso(alert.deadline), "@type": "JeopardyAlert"}
    po = product_order(order_id, "inProgress", items, jeopardyAlert=[jeopardy])
    body = _notification(envelope, ORDER_JEOPARDY, occurred=alert_date, title="Product order in jeopardy",
                         description=message, priority=JEOPARDY_PRIORITY.get(envelope.type, "normal"))
    body["event"] = {"productOrder": po}
    return _hub_event(envelope, ORDER_JEOPARDY, order_id, body, jeopardyType=kind)


def order_milestone(envelope: Envelope, resolved: TicketResolved, items: Sequence[Item]) -> HubEvent:
    """Extension (TMF622 v5 Milestone): a ticket of the order was resolved (or rejected)."""
    milestone = {"id": str(envelope.id), "name": f"{resolved.ticket_kind} {resolved.resolution}",
                 "description": f"ticket {resolved.ticket_id} ({resolved.business_type}) {resolved.resolution}",
                 "milestoneDate": _iso(resolved.resolved_at), "status": resolved.resolution,
                 "@type": "Milestone"}
    if resolved.reason:
        milestone["message"] = resolved.reason
    po = product_order(resolved.origin_id, "inProgress", items, milestone=[milestone])
    body = _notification(envelope, ORDER_MILESTONE, occurred=resolved.resolved_at, title="Product order milestone",
                         description=milestone["description"])
    body["event"] = {"productOrder": po}
    return _hub_event(envelope, ORDER_MILESTONE, resolved.origin_id, body, milestoneStatus=resolved.resolution)


def order_updated(envelope: Envelope, update: OrderUpdated, items: Sequence[Item], *,
                  information_required: bool = False) -> HubEvent:
    state = tmf_order_state(update.status, information_required=information_required)
    po = product_order(update.order_id, state, items)
    changed = ", ".join(update.changed)
    body = _notification(envelope, ORDER_ATTRIBUTE_CHANGE, occurred=update.updated_at,
                         title="Product order attribute value changed",
                         description=f"product order {update.order_id}: {changed} changed")
    body["event"] = {"productOrder": po}
    return _hub_event(envelope, ORDER_ATTRIBUTE_CHANGE, update.order_id, body, **{"productOrder.state": state})


def order_deleted(envelope: Envelope, discarded: OrderDiscarded) -> HubEvent:
    items = [Item(i.item_id, i.business_kind, i.product) for i in discarded.items]
    po = product_order(discarded.order_id, "acknowledged", items)
    body = _notification(envelope, ORDER_DELETE, occurred=discarded.discarded_at, title="Product order deleted",
                         description=f"draft product order {discarded.order_id} deleted")
    body["event"] = {"productOrder": po}
    return _hub_event(envelope, ORDER_DELETE, discarded.order_id, body)


def order_information_required(envelope: Envelope, info: OrderInformationRequired, items: Sequence[Item],
                               **created: Any) -> list[HubEvent]:
    """`productOrderInformationRequiredEvent` (`fieldPath`: the missing fields' TMF622 paths), after the order's
    `productOrderCreateEvent` when it was just captured (`created`: the members that event adds: channel,
    relatedParty)."""
    out: list[HubEvent] = []
    if info.created:
        po = product_order(info.order_id, PENDING, items, orderDate=_iso(info.required_at), **created)
        body = _notification(envelope, ORDER_CREATE, occurred=info.required_at, title="Product order created",
                             description=f"product order {info.order_id} created ({PENDING}: information required)")
        body["event"] = {"productOrder": po}
        out.append(_hub_event(envelope, ORDER_CREATE, info.order_id, body, **{"productOrder.state": PENDING}))
    missing = [m.model_dump() for m in info.missing]
    body = _notification(envelope, ORDER_INFORMATION_REQUIRED, occurred=info.required_at,
                         title="Product order information required",
                         description=f"product order {info.order_id}: "
                                     + describe([Missing(m["field"], m["reason"]) for m in missing]))
    body["fieldPath"] = field_path(missing)
    body["event"] = {"productOrder": product_order(info.order_id, PENDING, items)}
    out.append(_hub_event(envelope, ORDER_INFORMATION_REQUIRED, info.order_id, body,
                          **{"productOrder.state": PENDING}))
    return out


def order_information_provided(envelope: Envelope, provided: OrderInformationProvided,
                               items: Sequence[Item]) -> HubEvent:
    """The held-back order got what it lacked: pending → acknowledged (it is submitted to fulfilment)."""
    state = "acknowledged"
    po = product_order(provided.order_id, state, items)
    body = _notification(envelope, ORDER_STATE_CHANGE, occurred=provided.provided_at,
                         title="Product order state changed",
                         description=f"product order {provided.order_id}: {PENDING} -> {state} (information "
                                     f"provided: {', '.join(tmf_field(f) for f in provided.provided)})")
    body["event"] = {"productOrder": po}
    return _hub_event(envelope, ORDER_STATE_CHANGE, provided.order_id, body, **{"productOrder.state": state})


def cancel_product_order(cancellation_id: str, order_id: str, state: str, **extra: Any) -> dict[str, Any]:
    """A TMF622 CancelProductOrder as events carry it (absent fields omitted)."""
    task: dict[str, Any] = {
        "id": cancellation_id, "href": f"{CANCEL_BASE}/{cancellation_id}", "state": state,
        "productOrder": {"id": order_id, "href": f"{ORDER_BASE}/{order_id}", "@referredType": "ProductOrder"},
    }
    task.update({k: v for k, v in extra.items() if v is not None})
    task["@type"] = "CancelProductOrder"
    return task


def cancellation_created(envelope: Envelope, request: OrderCancellationRequested) -> HubEvent:
    task = cancel_product_order(
        request.cancellation_id, request.order_id, "acknowledged", cancellationReason=request.reason,
        requestedCancellationDate=_iso(request.requested_cancellation_date)
        if request.requested_cancellation_date else None)
    body = _notification(envelope, CANCEL_CREATE, occurred=request.requested_at,
                         title="Cancel product order created",
                         description=f"cancellation {request.cancellation_id} of product order {request.order_id}")
    body["event"] = {"cancelProductOrder": task}
    return _hub_event(envelope, CANCEL_CREATE, request.order_id, body, **{"cancelProductOrder.state": "acknowledged"})


def cancellation_state_changed(envelope: Envelope, change: OrderCancellationStateChanged) -> HubEvent:
    state = TASK_STATE[CancellationState(change.to_state)]
    extra: dict[str, Any] = {}
    if state == "done":
        extra["effectiveCancellationDate"] = _iso(change.changed_at)
    if change.reason:
        extra["cancellationReason"] = change.reason  # why a request was rejected
    task = cancel_product_order(change.cancellation_id, change.order_id, state, **extra)
    body = _notification(envelope, CANCEL_STATE_CHANGE, occurred=change.changed_at,
                         title="Cancel product order state changed",
                         description=f"cancellation {change.cancellation_id}: {state}"
                                     + (f" ({change.reason})" if change.reason else ""))
    body["event"] = {"cancelProductOrder": task}
    return _hub_event(envelope, CANCEL_STATE_CHANGE, change.order_id, body, **{"cancelProductOrder.state": state})


def cancellation_information_required(envelope: Envelope, info: OrderCancellationInformationRequired) -> HubEvent:
    """`cancelProductOrderInformationRequiredEvent`: the request waits (task state acknowledged) for `fieldPath`."""
    state = TASK_STATE[CancellationState.INFORMATION_REQUIRED]
    missing = [m.model_dump() for m in info.missing]
    text = describe([Missing(m["field"], m["reason"]) for m in missing])
    task = cancel_product_order(info.cancellation_id, info.order_id, state)
    body = _notification(envelope, CANCEL_INFORMATION_REQUIRED, occurred=info.required_at,
                         title="Cancel product order information required",
                         description=f"cancellation {info.cancellation_id} of product order {info.order_id}: {text}")
    body["fieldPath"] = field_path(missing)
    body["event"] = {"cancelProductOrder": task}
    return _hub_event(envelope, CANCEL_INFORMATION_REQUIRED, info.order_id, body,
                      **{"cancelProductOrder.state": state})


def order_state_of_cancellation(envelope: Envelope, change: OrderCancellationStateChanged,
                                items: Sequence[Item]) -> HubEvent:
    """The order's TMF622 state as a cancellation request moves it (`order_state` of the event)."""
    extra: dict[str, Any] = {}
    if change.order_state == "cancelled":
        extra = {"cancellationDate": _iso(change.changed_at)}
    po = product_order(change.order_id, change.order_state, items, **extra)
    body = _notification(envelope, ORDER_STATE_CHANGE, occurred=change.changed_at, title="Product order state changed",
                         description=f"product order {change.order_id}: {change.order_state} "
                                     f"(cancellation {change.cancellation_id})")
    body["event"] = {"productOrder": po}
    return _hub_event(envelope, ORDER_STATE_CHANGE, change.order_id, body,
                      **{"productOrder.state": change.order_state})


def _trouble_ticket(complaint_id: str, status: str, **extra: Any) -> dict[str, Any]:
    tt: dict[str, Any] = {"id": complaint_id, "href": f"{TICKET_BASE}/{complaint_id}", "status": status}
    tt.update({k: v for k, v in extra.items() if v is not None})
    tt["@type"] = "TroubleTicket"
    return tt


def complaint_created(envelope: Envelope, c: ComplaintCreated) -> HubEvent:
    tt = _trouble_ticket(
        c.complaint_id, "acknowledged", name=f"{c.category} complaint", description=c.description,
        severity=c.severity, ticketType=c.category, creationDate=_iso(c.created_at),
        relatedParty=[{"id": c.customer_id, "name": c.customer_name, "role": "customer",
                       "@referredType": "Organization"}])
    body = _notification(envelope, TICKET_CREATE, occurred=c.created_at, title="Trouble ticket created",
                         description=f"complaint {c.complaint_id} created")
    body["event"] = {"troubleTicket": tt}
    return _hub_event(envelope, TICKET_CREATE, c.complaint_id, body, **{"troubleTicket.status": "acknowledged"})


def complaint_status_changed(envelope: Envelope, c: ComplaintStatusChanged) -> list[HubEvent]:
    old, new = COMPLAINT_STATUS.get(c.from_status, c.from_status), COMPLAINT_STATUS.get(c.to_status, c.to_status)
    if old == new:
        return []
    out = []
    for event_type in ([TICKET_STATUS_CHANGE, TICKET_RESOLVED] if new == "resolved" else [TICKET_STATUS_CHANGE]):
        tt = _trouble_ticket(c.complaint_id, new, statusChange=[{"status": new, "changeDate": _iso(c.changed_at)}],
                             resolutionDate=_iso(c.changed_at) if new == "resolved" else None)
        body = _notification(envelope, event_type, occurred=c.changed_at,
                             title="Trouble ticket resolved" if event_type == TICKET_RESOLVED
                             else "Trouble ticket status changed",
                             description=f"complaint {c.complaint_id}: {old} -> {new}")
        body["event"] = {"troubleTicket": tt}
        out.append(_hub_event(envelope, event_type, c.complaint_id, body, **{"troubleTicket.status": new}))
    return out


# ---------------------------------------------------------------------------------------------------
# The consumer side: read what the event lacks, then map (the fan-out queues the result).


async def _items(session: AsyncSession, order_id: str) -> list[Item]:
    from crm.models import order_items

    rows = (await session.execute(select(order_items.c.id, order_items.c.business_kind, order_items.c.product)
                                  .where(order_items.c.order_id == order_id).order_by(order_items.c.position))).all()
    return [Item(r.id, r.business_kind, r.product) for r in rows]


async def _on_submitted(session: AsyncSession, event: Envelope) -> list[HubEvent]:
    from crm.models import orders

    order = event.payload(OrderSubmitted)
    held = (await session.execute(select(orders.c.information_requested_at).where(
        orders.c.id == order.order_id))).scalar_one_or_none()
    if held is not None:  # announced when it was captured (pending); information_provided says it went on
        return []
    return [order_created(event, order)]


async def _on_status_changed(session: AsyncSession, event: Envelope) -> list[HubEvent]:
    from crm.models import order_cancellations

    change = event.payload(OrderStatusChanged)
    items = await _items(session, change.order_id)
    if not items:  # not an order of this database
        return []
    if change.to_status == "cancelled" and (await session.execute(select(order_cancellations.c.id).where(
            order_cancellations.c.order_id == change.order_id,
            order_cancellations.c.state.in_(("in_progress", "done"))).limit(1))).first() is not None:
        return []  # a cancelProductOrder's: its own events carry the order's state
    mapped = order_state_changed(event, change, items)
    return [mapped] if mapped is not None else []


async def _on_updated(session: AsyncSession, event: Envelope) -> list[HubEvent]:
    from crm.models import orders

    update = event.payload(OrderUpdated)
    items = await _items(session, update.order_id)
    if not items:
        return []
    held = update.status == "draft" and (await session.execute(select(orders.c.information_required).where(
        orders.c.id == update.order_id))).scalar_one_or_none() is not None
    return [order_updated(event, update, items, information_required=held)]


async def _on_information_required(session: AsyncSession, event: Envelope) -> list[HubEvent]:
    from crm.models import customers, orders

    info = event.payload(OrderInformationRequired)
    items = await _items(session, info.order_id)
    if not items:  # not an order of this database (or discarded since)
        return []
    created: dict[str, Any] = {}
    if info.created:
        row = (await session.execute(
            select(orders.c.channel, orders.c.account_manager_id, customers.c.name)
            .join(customers, customers.c.id == orders.c.customer_id).where(orders.c.id == info.order_id))).one()
        created = {"channel": [{"id": row.channel, "name": row.channel}],
                   "relatedParty": [{"id": info.customer_id, "name": row.name, "role": "customer",
                                     "@referredType": "Organization"},
                                    {"id": row.account_manager_id, "role": "accountManager",
                                     "@referredType": "Individual"}]}
    return order_information_required(event, info, items, **created)


async def _on_information_provided(session: AsyncSession, event: Envelope) -> list[HubEvent]:
    provided = event.payload(OrderInformationProvided)
    items = await _items(session, provided.order_id)
    return [order_information_provided(event, provided, items)] if items else []


async def _on_cancellation_changed(session: AsyncSession, event: Envelope) -> list[HubEvent]:
    change = event.payload(OrderCancellationStateChanged)
    items = await _items(session, change.order_id)
    task = cancellation_state_changed(event, change)
    return [task, order_state_of_cancellation(event, change, items)] if items else [task]


def _on_alert(payload: type[AlertContext]) -> Mapper:
    async def map_alert(session: AsyncSession, event: Envelope) -> list[HubEvent]:
        from crm.models import tickets

        alert = event.payload(payload)
        ticket = (await session.execute(select(tickets.c.origin, tickets.c.origin_id).where(
            tickets.c.ticket_id == alert.ticket_id))).first()
        if ticket is None or ticket.origin != "order":
            return []
        items = await _items(session, ticket.origin_id)
        return [order_jeopardy(event, alert, ticket.origin_id, items)] if items else []

    return map_alert


async def _on_ticket_resolved(session: AsyncSession, event: Envelope) -> list[HubEvent]:
    resolved = event.payload(TicketResolved)
    if resolved.origin != "order":
        return []
    items = await _items(session, resolved.origin_id)
    return [order_milestone(event, resolved, items)] if items else []


async def _on_complaint_status(session: AsyncSession, event: Envelope) -> list[HubEvent]:
    return complaint_status_changed(event, event.payload(ComplaintStatusChanged))


#: source event type → mapper, per hub the CRM offers
ORDER_MAPPERS: dict[str, Mapper] = {
    "crm.order.submitted": _on_submitted,
    "crm.order.status_changed": _on_status_changed,
    "crm.order.updated": _on_updated,
    "crm.order.discarded": from_payload(OrderDiscarded, order_deleted),
    "crm.order.cancellation_requested": from_payload(OrderCancellationRequested, cancellation_created),
    "crm.order.cancellation_state_changed": _on_cancellation_changed,
    "crm.order.information_required": _on_information_required,
    "crm.order.information_provided": _on_information_provided,
    "crm.order.cancellation_information_required": from_payload(OrderCancellationInformationRequired,
                                                                cancellation_information_required),
    "sla.warning": _on_alert(SlaWarning),
    "sla.breached": _on_alert(SlaBreached),
    "sla.escalated": _on_alert(SlaEscalated),
    "eoms.ticket.resolved": _on_ticket_resolved,
}
TICKET_MAPPERS: dict[str, Mapper] = {
    "crm.complaint.created": from_payload(ComplaintCreated, complaint_created),
    "crm.complaint.status_changed": _on_complaint_status,
}
