"""The EOMS bridge's TMF621 events for hub subscribers (troubleTicket/v4 hub): pure functions from the
bridge's own `eoms.ticket.*` events to TMF621 event bodies, and the mappers the consumer runs.

- `eoms.ticket.created` → `troubleTicketCreateEvent`;
- `eoms.ticket.state_changed` → `troubleTicketStatusChangeEvent` (every status change: inProgress,
  pending, held, resolved, closed, rejected, cancelled);
- `eoms.ticket.resolved` with resolution "resolved" → `troubleTicketResolvedEvent` too;
- `eoms.ticket.node_entered` / `eoms.ticket.node_assigned` → `troubleTicketAttributeValueChangeEvent`
  (the characteristics `current_node`, `current_role`, `assignee` changed);
- `eoms.ticket.attributes_changed` (a TMF621 PATCH) → `troubleTicketAttributeValueChangeEvent` (the
  `description`, `severity` with its `priority`, or the `note` appended).

Event ids are `hub_event_id(source event id, TMF event type)`: a redelivery carries the same eventId.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backbone.envelope import Envelope
from backbone.events import (
    TicketAttributesChanged,
    TicketContext,
    TicketCreated,
    TicketNodeAssigned,
    TicketNodeEntered,
    TicketResolved,
)
from backbone.events import TicketStateChanged as WireStateChanged
from backbone.hub.fanout import Mapper, from_payload
from backbone.hub.model import HubEvent, HubTables, hub_event_id
from backbone.hub.service import HubApi
from eoms_bridge.domain.tmf621 import priority_of

TICKET_API = "troubleTicket/v4"
TICKET_HUB_BASE = "/tmf-api/troubleTicket/v4"
TICKET_BASE = f"{TICKET_HUB_BASE}/troubleTicket"

TICKET_CREATE = "troubleTicketCreateEvent"
TICKET_STATUS_CHANGE = "troubleTicketStatusChangeEvent"
TICKET_RESOLVED = "troubleTicketResolvedEvent"
TICKET_ATTRIBUTE_CHANGE = "troubleTicketAttributeValueChangeEvent"
TICKET_EVENT_TYPES = frozenset({TICKET_CREATE, TICKET_STATUS_CHANGE, TICKET_RESOLVED, TICKET_ATTRIBUTE_CHANGE})

#: ticket state → TMF621 TroubleTicketStatusType
TMF_STATUS = {
    "acknowledged": "acknowledged", "in_progress": "inProgress", "pending": "pending", "held": "held",
    "resolved": "resolved", "closed": "closed", "rejected": "rejected", "cancelled": "cancelled",
}
ORIGIN_TYPE = {"order": "ProductOrder", "complaint": "TroubleTicket", "network": "Alarm"}


def ticket_hub(tables: HubTables) -> HubApi:
    return HubApi(TICKET_API, TICKET_HUB_BASE, TICKET_EVENT_TYPES, tables)


def tmf_status(state: str) -> str:
    return TMF_STATUS.get(state, state)


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def trouble_ticket(t: TicketContext, status: str | None = None, **extra: Any) -> dict[str, Any]:
    """A TMF621 TroubleTicket as events carry it (absent fields omitted)."""
    tt: dict[str, Any] = {"id": t.ticket_id, "href": f"{TICKET_BASE}/{t.ticket_id}"}
    if status is not None:
        tt["status"] = status
    tt.update({
        "name": f"{t.ticket_kind} {t.business_type}", "ticketType": t.ticket_kind,
        "relatedEntity": [{"id": t.origin_id, "role": t.origin, "@referredType": ORIGIN_TYPE.get(t.origin, "Entity")}],
    })
    if t.customer_id:  # a network-originated ticket may name no customer (docs/tmf.md, TMF621 Trouble Ticket)
        tt["relatedParty"] = [{"id": t.customer_id, "name": t.customer_name, "role": "customer",
                               "@referredType": "Organization"}]
    tt.update({k: v for k, v in extra.items() if v is not None})
    tt["@type"] = "TroubleTicket"
    return tt


def _characteristics(**values: str | None) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in values.items() if v is not None]


def _event(envelope: Envelope, event_type: str, t: TicketContext, tt: dict[str, Any], *, occurred: datetime,
           title: str, description: str) -> HubEvent:
    body: dict[str, Any] = {
        "eventId": str(hub_event_id(envelope.id, event_type)), "eventTime": _iso(envelope.time),
        "eventType": event_type,
    }
    if envelope.correlation_id:
        body["correlationId"] = envelope.correlation_id
    body.update({"domain": "troubleTicket", "title": title, "description": description, "priority": "normal",
                 "timeOcurred": _iso(occurred), "event": {"troubleTicket": tt}})
    attributes = {"troubleTicket.ticketType": t.ticket_kind, "troubleTicket.origin": t.origin}
    if "status" in tt:
        attributes["troubleTicket.status"] = tt["status"]
    return HubEvent(hub_event_id(envelope.id, event_type), event_type, t.ticket_id, envelope.id, body, attributes)


def ticket_created(envelope: Envelope, t: TicketCreated) -> HubEvent:
    status = tmf_status(t.state)
    tt = trouble_ticket(t, status, creationDate=_iso(t.created_at),
                        characteristic=_characteristics(business_type=t.business_type, current_node=t.node,
                                                        current_role=t.role, assignee=t.assignee))
    return _event(envelope, TICKET_CREATE, t, tt, occurred=t.created_at, title="Trouble ticket created",
                  description=f"ticket {t.ticket_id} opened at node {t.node}")


def ticket_status_changed(envelope: Envelope, t: WireStateChanged) -> HubEvent | None:
    old, new = tmf_status(t.from_state), tmf_status(t.to_state)
    if old == new:
        return None
    change: dict[str, Any] = {"status": new, "changeDate": _iso(t.changed_at)}
    if t.reason:
        change["changeReason"] = t.reason
    tt = trouble_ticket(t, new, statusChangeReason=t.reason, statusChange=[change])
    return _event(envelope, TICKET_STATUS_CHANGE, t, tt, occurred=t.changed_at, title="Trouble ticket status changed",
                  description=f"ticket {t.ticket_id}: {old} -> {new}")


def ticket_resolved(envelope: Envelope, t: TicketResolved) -> HubEvent | None:
    if t.resolution != "resolved":
        return None  # a rejection is a status change (rejected), not a resolution
    tt = trouble_ticket(t, "resolved", resolutionDate=_iso(t.resolved_at), statusChangeReason=t.reason)
    return _event(envelope, TICKET_RESOLVED, t, tt, occurred=t.resolved_at, title="Trouble ticket resolved",
                  description=f"ticket {t.ticket_id} resolved" + (f" at node {t.node}" if t.node else ""))


def ticket_node_changed(envelope: Envelope, t: TicketNodeEntered | TicketNodeAssigned) -> HubEvent:
    at = t.entered_at if isinstance(t, TicketNodeEntered) else t.assigned_at
    tt = trouble_ticket(t, characteristic=_characteristics(current_node=t.node, current_role=t.role,
                                                           assignee=t.assignee))
    what = "entered node" if isinstance(t, TicketNodeEntered) else f"assigned to {t.assignee} at node"
    return _event(envelope, TICKET_ATTRIBUTE_CHANGE, t, tt, occurred=at, title="Trouble ticket attribute changed",
                  description=f"ticket {t.ticket_id} {what} {t.node}")


def ticket_attributes_changed(envelope: Envelope, t: TicketAttributesChanged) -> HubEvent:
    note = [{"text": t.note, "author": t.actor, "date": _iso(t.changed_at)}] if t.note else None
    tt = trouble_ticket(t, description=t.description, severity=t.severity, priority=priority_of(t.severity),
                        note=note, lastUpdate=_iso(t.changed_at))
    return _event(envelope, TICKET_ATTRIBUTE_CHANGE, t, tt, occurred=t.changed_at,
                  title="Trouble ticket attribute changed",
                  description=f"ticket {t.ticket_id}: {', '.join(t.changed)} changed")


# ---------------------------------------------------------------------------------------------------
# The consumer side (the bridge's own eoms.tickets stream).


TICKET_MAPPERS: dict[str, Mapper] = {
    "eoms.ticket.created": from_payload(TicketCreated, ticket_created),
    "eoms.ticket.state_changed": from_payload(WireStateChanged, ticket_status_changed),
    "eoms.ticket.resolved": from_payload(TicketResolved, ticket_resolved),
    "eoms.ticket.node_entered": from_payload(TicketNodeEntered, ticket_node_changed),
    "eoms.ticket.node_assigned": from_payload(TicketNodeAssigned, ticket_node_changed),
    "eoms.ticket.attributes_changed": from_payload(TicketAttributesChanged, ticket_attributes_changed),
}
