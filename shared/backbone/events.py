"""Typed payloads of every event in the suite: the contract between services.

Each payload class is registered with its event type and schema version. Payloads ignore unknown
fields on read (a newer producer may add some) and forbid nothing else: consumers stay tolerant.
docs/events.md is generated from this module (`python -m backbone.events_doc`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from backbone import topics
from backbone.vocabulary import BusinessKind, ComplaintSeverity, SalesChannel, TicketKind, Tier

# The vocabulary's enums spelled as literals of their members: payloads validate into the enum
# members, and the JSON schema (hence docs/events.md) stays a plain enum of strings.
TierValue = Literal[Tier.A, Tier.B, Tier.C]
BusinessKindValue = Literal[BusinessKind.OPENING, BusinessKind.CHANGE, BusinessKind.CANCELLATION]
TicketKindValue = Literal[
    TicketKind.SERVICE_OPENING, TicketKind.RESOURCE_CONFIRMATION, TicketKind.RESOURCE_PREOCCUPATION,
    TicketKind.COMPLAINT_FAULT,
]
SalesChannelValue = Literal[SalesChannel.ACCOUNT_MANAGER, SalesChannel.AGENT, SalesChannel.WEB_PORTAL]
ComplaintSeverityValue = Literal[
    ComplaintSeverity.LOW, ComplaintSeverity.MEDIUM, ComplaintSeverity.HIGH, ComplaintSeverity.CRITICAL,
]
T = TypeVar("T", bound=type[BaseModel])

_REGISTRY: dict[str, tuple[type[BaseModel], int, str]] = {}
_BY_CLASS: dict[type[BaseModel], tuple[str, int]] = {}


def event(event_type: str, *, topic: str, version: int = 1) -> Any:
    def register(cls: T) -> T:
        _REGISTRY[event_type] = (cls, version, topic)
        _BY_CLASS[cls] = (event_type, version)
        return cls

    return register


def event_type_of(cls: type[BaseModel]) -> tuple[str, int]:
    return _BY_CLASS[cls]


def payload_class(event_type: str) -> type[BaseModel] | None:
    entry = _REGISTRY.get(event_type)
    return entry[0] if entry else None


def topic_of(event_type: str) -> str:
    return _REGISTRY[event_type][2]


def registry() -> dict[str, tuple[type[BaseModel], int, str]]:
    return dict(_REGISTRY)


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


# ------------------------------------------------------------------ CRM


class OrderItem(Payload):
    item_id: str
    product: str = Field(description="product id, e.g. dedicated_line_data")
    business_kind: BusinessKindValue
    business_type: str = Field(description="<product>.<business_kind>, the key of the EOMS workflow")
    attributes: dict[str, Any] = Field(default_factory=dict)


class CustomerRef(Payload):
    customer_id: str
    customer_name: str
    customer_tier: TierValue
    customer_key: bool = False
    account_manager_id: str
    customer_region: str | None = Field(default=None, description="the customer's region (CRM); older events lack it")


@event("crm.order.submitted", topic=topics.CRM_ORDERS)
class OrderSubmitted(CustomerRef):
    """An order (受理单) left draft: the EOMS bridge opens its tickets."""

    order_id: str
    channel: SalesChannelValue
    items: list[OrderItem] = Field(min_length=1)
    submitted_at: datetime


@event("crm.order.cancelled", topic=topics.CRM_ORDERS)
class OrderCancelled(Payload):
    order_id: str
    customer_id: str
    reason: str
    cancelled_at: datetime


@event("crm.order.status_changed", topic=topics.CRM_ORDERS)
class OrderStatusChanged(Payload):
    order_id: str
    customer_id: str
    from_status: str
    to_status: str
    reason: str | None = None
    changed_at: datetime


@event("crm.order.updated", topic=topics.CRM_ORDERS)
class OrderUpdated(Payload):
    """A product order's attributes were changed (TMF622 PATCH): what changed, by its TMF622 name."""

    order_id: str
    customer_id: str
    status: str
    changed: list[str] = Field(min_length=1, description="TMF622 attribute names, e.g. description, productOrderItem")
    updated_at: datetime


@event("crm.order.discarded", topic=topics.CRM_ORDERS)
class OrderDiscarded(Payload):
    """A draft order was deleted (TMF622 DELETE): it never reached the EOMS. `items` as they were (the
    rows are gone when a consumer sees the event)."""

    order_id: str
    customer_id: str
    items: list[OrderItem] = Field(default_factory=list)
    discarded_at: datetime


@event("crm.order.cancellation_requested", topic=topics.CRM_ORDERS)
class OrderCancellationRequested(Payload):
    """A TMF622 cancelProductOrder was received (state acknowledged; the order is assessingCancellation)."""

    cancellation_id: str
    order_id: str
    customer_id: str
    reason: str | None = None
    requested_cancellation_date: datetime | None = None
    requested_at: datetime


@event("crm.order.cancellation_state_changed", topic=topics.CRM_ORDERS)
class OrderCancellationStateChanged(Payload):
    """A cancellation request moved: acknowledged → in_progress (accepted: the order is cancelled, its open
    EOMS tickets are being cancelled; order pendingCancellation) → done (no ticket left open; order
    cancelled); or acknowledged → rejected with the reason (too late, e.g. the order is completed)."""

    cancellation_id: str
    order_id: str
    customer_id: str
    from_state: Literal["acknowledged", "in_progress", "information_required"] | None = None
    to_state: Literal["acknowledged", "in_progress", "done", "rejected"]
    order_state: str = Field(description="the order's TMF622 state now: assessingCancellation, pendingCancellation, "
                                         "cancelled, or its own (a rejected request leaves it as it was)")
    reason: str | None = Field(default=None, description="why a request was rejected")
    changed_at: datetime


class InformationItem(Payload):
    field: str = Field(description="the missing field, natively named (items.0.attributes.sim_delivery_address, "
                                   "cancellationReason)")
    reason: str


@event("crm.order.information_required", topic=topics.CRM_ORDERS)
class OrderInformationRequired(Payload):
    """An order lacks information fulfilment needs (crm/domain/information.py): it is held back as a draft (TMF622
    state pending) until it is given. `created`: the order was just captured (no crm.order.submitted came before)."""

    order_id: str
    customer_id: str
    missing: list[InformationItem] = Field(min_length=1)
    created: bool = False
    required_at: datetime


@event("crm.order.information_provided", topic=topics.CRM_ORDERS)
class OrderInformationProvided(Payload):
    """The information an order lacked was given (TMF622 PATCH): it is submitted next (crm.order.submitted)."""

    order_id: str
    customer_id: str
    provided: list[str] = Field(description="the fields given, natively named")
    provided_at: datetime


@event("crm.order.cancellation_information_required", topic=topics.CRM_ORDERS)
class OrderCancellationInformationRequired(Payload):
    """A cancellation request lacks what it needs to be assessed (e.g. the cancellationReason of an order in
    progress): it waits (TMF622 task state acknowledged) until a new POST of the same order brings it."""

    cancellation_id: str
    order_id: str
    customer_id: str
    missing: list[InformationItem] = Field(min_length=1)
    required_at: datetime


@event("crm.complaint.created", topic=topics.CRM_COMPLAINTS)
class ComplaintCreated(CustomerRef):
    complaint_id: str
    category: str
    severity: ComplaintSeverityValue
    product: str | None = None
    description: str
    created_at: datetime


@event("crm.complaint.status_changed", topic=topics.CRM_COMPLAINTS)
class ComplaintStatusChanged(Payload):
    complaint_id: str
    customer_id: str
    from_status: str
    to_status: str
    satisfaction: int | None = Field(default=None, ge=1, le=5)
    changed_at: datetime


@event("crm.customer.tier_changed", topic=topics.CRM_CUSTOMERS)
class CustomerTierChanged(Payload):
    customer_id: str
    old_tier: TierValue | None
    new_tier: TierValue
    score: float
    key: bool
    account_manager_id: str
    changed_at: datetime


@event("crm.opportunity.created", topic=topics.CRM_OPPORTUNITIES)
class OpportunityCreated(Payload):
    """An opportunity (商机) was recorded for a customer (open)."""

    opportunity_id: str
    customer_id: str
    account_manager_id: str
    channel: str
    products: list[str] = Field(default_factory=list)
    created_at: datetime


@event("crm.opportunity.status_changed", topic=topics.CRM_OPPORTUNITIES)
class OpportunityStatusChanged(Payload):
    """An opportunity was decided: open → confirmed (converted) | lost."""

    opportunity_id: str
    customer_id: str
    account_manager_id: str
    from_status: str
    to_status: str
    reason: str | None = None
    changed_at: datetime


# ------------------------------------------------------------------ EOMS


class TicketContext(Payload):
    """Everything downstream services need about a ticket, so none has to call the bridge back."""

    ticket_id: str
    ticket_kind: TicketKindValue
    business_type: str
    origin: Literal["order", "complaint", "network"] = Field(
        description='"network": a network-originated ticket (TMF621 POST on the EOMS bridge, e.g. from fault '
                    'management); origin_id is its externalId')
    origin_id: str
    customer_id: str
    customer_name: str
    customer_tier: TierValue
    account_manager_id: str
    workflow_id: str
    workflow_version: int
    customer_region: str | None = Field(
        default=None, description="the customer's region, copied from the order or complaint")


@event("eoms.ticket.created", topic=topics.EOMS_TICKETS)
class TicketCreated(TicketContext):
    state: str
    node: str
    role: str
    assignee: str | None = None
    created_at: datetime


@event("eoms.ticket.node_entered", topic=topics.EOMS_TICKETS)
class TicketNodeEntered(TicketContext):
    node: str
    role: str
    assignee: str | None = None
    entered_at: datetime
    entered_via: str | None = Field(default=None, description='"start", "outcome:<name>" or "return"')


@event("eoms.ticket.node_completed", topic=topics.EOMS_TICKETS)
class TicketNodeCompleted(TicketContext):
    """The node was left: `outcome` is a workflow outcome, or "$return" / "$cancelled" (SLA stops its timer)."""

    node: str
    role: str
    assignee: str | None = None
    outcome: str
    completed_at: datetime
    next_node: str | None = Field(default=None, description='next node, "$resolved" or "$rejected"')
    data: dict[str, Any] = Field(default_factory=dict)


@event("eoms.ticket.node_assigned", topic=topics.EOMS_TICKETS)
class TicketNodeAssigned(TicketContext):
    """A person claimed the node (accept), it was dispatched to the on-duty person, or handed over
    (reassign); `how` says which (absent on events before issue 13: a claim or a reassignment)."""

    node: str
    role: str
    assignee: str
    previous_assignee: str | None = None
    assigned_at: datetime
    how: Literal["auto", "manual", "claim", "override"] | None = Field(default=None, description=(
        "claim (accepted from the queue), auto (dispatched to the on-duty person of the role in the "
        "ticket's region), manual (reassigned to a named person or unit), override (a supervisor outside "
        "the node's role)"))
    assignee_unit: str | None = Field(default=None, description="the unit (department) it was handed to, if any")


@event("eoms.ticket.node_returned", topic=topics.EOMS_TICKETS)
class TicketNodeReturned(TicketContext):
    """The node was sent back to the previous node of its path (followed by node_entered there)."""

    node: str
    role: str
    assignee: str | None = None
    to_node: str
    reason: str
    returned_at: datetime


@event("eoms.ticket.state_changed", topic=topics.EOMS_TICKETS)
class TicketStateChanged(TicketContext):
    """`pending` pauses the node's SLA clock; leaving `pending` resumes it."""

    from_state: str
    to_state: str
    node: str | None = None
    reason: str | None = None
    changed_at: datetime
    role: str | None = None
    assignee: str | None = None
    sla_paused: bool | None = None


@event("eoms.ticket.resolved", topic=topics.EOMS_TICKETS)
class TicketResolved(TicketContext):
    resolution: Literal["resolved", "rejected"]
    reason: str | None = None
    resolved_at: datetime
    node: str | None = Field(default=None, description="the last node worked")
    role: str | None = None
    assignee: str | None = None
    outcome: str | None = None


@event("eoms.ticket.closed", topic=topics.EOMS_TICKETS)
class TicketClosed(TicketContext):
    """Closed after resolution, or ended by cancellation (`final_state` "cancelled")."""

    final_state: str
    closed_at: datetime
    reason: str | None = None
    node: str | None = None
    role: str | None = None
    assignee: str | None = None


@event("eoms.ticket.attributes_changed", topic=topics.EOMS_TICKETS)
class TicketAttributesChanged(TicketContext):
    """Attributes of the ticket changed without a state change (a TMF621 PATCH: description, severity,
    notes); `changed` names them (`description`, `severity`, `note`), each with its new value."""

    changed: list[str]
    changed_at: datetime
    actor: str = Field(description="who changed them (a person, or `tmf:<subject>` for an integrating system)")
    description: str | None = None
    severity: str | None = None
    note: str | None = Field(default=None, description="the text of the note appended, if one was")


# ------------------------------------------------------------------ SLA


class AlertContext(Payload):
    timer_id: str
    ticket_id: str
    ticket_kind: str
    business_type: str
    node: str
    role: str
    assignee: str | None = None
    customer_id: str
    customer_name: str
    customer_tier: TierValue
    account_manager_id: str
    deadline: datetime
    policy_version: str
    customer_region: str | None = Field(default=None, description="the customer's region, from the ticket events")


@event("sla.warning", topic=topics.SLA_ALERTS)
class SlaWarning(AlertContext):
    warning_point: str = Field(description='which point fired, e.g. "50%" or "30min"')
    remaining_seconds: float


@event("sla.breached", topic=topics.SLA_ALERTS)
class SlaBreached(AlertContext):
    lateness_seconds: float


@event("sla.escalated", topic=topics.SLA_ALERTS)
class SlaEscalated(AlertContext):
    level: int = Field(ge=1)
    escalate_to_role: str
    lateness_seconds: float


@event("sla.met", topic=topics.SLA_ALERTS)
class SlaMet(AlertContext):
    elapsed_seconds: float
    late: bool


# ------------------------------------------------------------------ notify


@event("notify.delivery.recorded", topic=topics.NOTIFY_DELIVERIES)
class DeliveryRecorded(Payload):
    delivery_id: str
    source_event_id: str
    source_event_type: str
    recipient_id: str
    channel: Literal["sms", "email"]
    status: Literal["queued", "sent", "delivered", "failed", "suppressed", "digested"]
    reason: str | None = None
    ticket_id: str | None = None
    recorded_at: datetime


# ------------------------------------------------------------------ stats


@event("stats.report.generated", topic=topics.STATS_REPORTS)
class DailyReportGenerated(Payload):
    """The daily statistics report of a (Shanghai) day was generated at 08:00 the next morning: notify
    e-mails it, as an attachment, to the managers of its directory (docs/stats.md)."""

    day: date = Field(description="the report day (its figures: 00:00-24:00 Asia/Shanghai)")
    title: str
    filename: str
    content_type: Literal["text/csv"] = "text/csv"
    content: str = Field(description="the attachment itself (CSV, UTF-8); person ids only, no contact data")
    rows: int
    generated_at: datetime
