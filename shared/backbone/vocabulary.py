"""The suite's shared words, once: products, business kinds, customer tiers and roles.

Every service (and the event contract in ``backbone.events``) takes these from here; the values
are the wire values and must never change. Every enum is a ``StrEnum``: its members compare equal
to, and serialise as, their plain value (JSON, events, database columns).

- ``ProductId``: the eight product ids of the catalogue.
- ``BusinessKind``: what an order item does to a product (opening, change, cancellation).
- ``WorkflowKind``: the kind half of an EOMS business type ``<product>.<kind>``: the business
  kinds plus ``complaint``. ``GENERIC_COMPLAINT`` (``generic.complaint``) is the one business type
  that names no product: a complaint without a product (``business_type_of_complaint``).
- ``TicketKind``: the kinds of EOMS ticket a workflow opens; ``eoms.ticket.*`` events carry them as
  ``ticket_kind``, and the CRM, the SLA policies and notify's labels key on them.
- ``Tier``: customer tier A/B/C (A is the most valuable).
- ``SalesChannel``, ``ComplaintCategory``, ``ComplaintSeverity``, ``OpportunityState``: the CRM's words
  that its events carry to the other services (an order's channel, a complaint's category, which the
  EOMS complaint workflows route on, and severity; the opportunity states the statistics count).
- ``TokenRole``: the roles a JWT carries (``backbone.auth``): the roles of the seed (account
  managers, agents, the complaint desk, dispatchers, the network department's roles, partner SI
  engineers, supervisors, department heads, admins).
- ``NodeRole``: the roles EOMS workflow nodes are assigned to. ``NODE_ROLES_OF_TOKEN_ROLE`` is the
  documented mapping (docs/security.md, "Roles"): a token's role works the node role of the same name
  and nothing else; there is no catch-all (``network_staff`` works ``network_staff`` nodes only, a
  network resource engineer holds ``network_resource``). Supervisors (and admins, who act with a
  supervisor's authority) may override a node's role, and the ticket records it as an override.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final


class ProductId(StrEnum):
    """The eight product ids of the catalogue."""

    VPMN = "vpmn"
    MOBILE_SWITCHBOARD = "mobile_switchboard"
    GROUP_SMS = "group_sms"
    INDUSTRY_OTA = "industry_ota"
    M2M = "m2m"
    MOBILE_MAILBOX = "mobile_mailbox"
    DEDICATED_LINE_DATA = "dedicated_line_data"
    DEDICATED_LINE_INTERNET = "dedicated_line_internet"


class BusinessKind(StrEnum):
    """What an order item does to a product."""

    OPENING = "opening"
    CHANGE = "change"
    CANCELLATION = "cancellation"


class WorkflowKind(StrEnum):
    """The ``<kind>`` of a business type ``<product>.<kind>``: a business kind, or a complaint."""

    OPENING = "opening"
    CHANGE = "change"
    CANCELLATION = "cancellation"
    COMPLAINT = "complaint"


class TicketKind(StrEnum):
    """The kinds of EOMS ticket a workflow opens."""

    SERVICE_OPENING = "service_opening"
    RESOURCE_CONFIRMATION = "resource_confirmation"
    RESOURCE_PREOCCUPATION = "resource_preoccupation"
    COMPLAINT_FAULT = "complaint_fault"


class Tier(StrEnum):
    A = "A"
    B = "B"
    C = "C"


class TokenRole(StrEnum):
    """The roles a bearer token carries (the ``roles`` claim): the roles of the seed."""

    ACCOUNT_MANAGER = "account_manager"
    AGENT = "agent"  # orders through the agent channel, for the customers assigned to that agent
    COMPLAINT_DESK = "complaint_desk"
    DISPATCHER = "dispatcher"  # dispatches and reassigns node tasks; works no node itself
    NETWORK_STAFF = "network_staff"
    NETWORK_RESOURCE = "network_resource"
    DATA_PRODUCTION = "data_production"
    FIELD_ENGINEER = "field_engineer"
    NOC_TESTER = "noc_tester"
    TRANSMISSION = "transmission"
    CORE_NETWORK = "core_network"
    PARTNER_SI = "partner_si"  # with the token's `partner` claim: a partner's engineer
    SUPERVISOR = "supervisor"
    DEPARTMENT_HEAD = "department_head"  # reads the department's work and figures; works no node
    ADMIN = "admin"
    #: a machine caller, an integrating system (fault management opening TMF621 tickets); works no node
    INTEGRATION = "integration"


class NodeRole(StrEnum):
    """Who works an EOMS workflow node."""

    ACCOUNT_MANAGER = "account_manager"
    NETWORK_STAFF = "network_staff"
    # The network department's finer roles.
    NETWORK_RESOURCE = "network_resource"
    DATA_PRODUCTION = "data_production"
    FIELD_ENGINEER = "field_engineer"
    NOC_TESTER = "noc_tester"
    TRANSMISSION = "transmission"
    CORE_NETWORK = "core_network"
    PARTNER_SI = "partner_si"
    SUPERVISOR = "supervisor"
    COMPLAINT_DESK = "complaint_desk"



class SalesChannel(StrEnum):
    """How an order or an opportunity reached the CRM (``OrderSubmitted.channel``)."""

    ACCOUNT_MANAGER = "account_manager"
    AGENT = "agent"
    WEB_PORTAL = "web_portal"


class ComplaintCategory(StrEnum):
    """A complaint's category (``ComplaintCreated.category``): the EOMS complaint workflows route on it."""

    FAULT = "fault"
    SERVICE_QUALITY = "service_quality"
    BILLING = "billing"
    BUSINESS_HANDLING = "business_handling"
    OTHER = "other"


class ComplaintSeverity(StrEnum):
    """A complaint's severity (``ComplaintCreated.severity``)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class OpportunityState(StrEnum):
    """An opportunity's states (``OpportunityStatusChanged``): open, then confirmed or lost."""

    OPEN = "open"
    CONFIRMED = "confirmed"
    LOST = "lost"


PRODUCT_IDS: Final[frozenset[str]] = frozenset(p.value for p in ProductId)

#: The scope of the one business type that names no product.
GENERIC_SCOPE: Final = "generic"
#: The business type of a complaint that names no product: triage at the complaint desk, then
#: routed by the complaint's category (the EOMS bridge ships its workflow).
GENERIC_COMPLAINT: Final = f"{GENERIC_SCOPE}.complaint"
TOKEN_ROLES: Final[tuple[TokenRole, ...]] = tuple(TokenRole)
WORKFLOW_KINDS: Final[frozenset[str]] = frozenset(k.value for k in WorkflowKind)
NODE_ROLES: Final[frozenset[str]] = frozenset(r.value for r in NodeRole)

#: The network department's finer node roles (each a token role of its own since issue 13: a
#: ``network_staff`` token does not work them).
NETWORK_SUB_ROLES: Final[frozenset[NodeRole]] = frozenset(
    {
        NodeRole.NETWORK_RESOURCE,
        NodeRole.DATA_PRODUCTION,
        NodeRole.FIELD_ENGINEER,
        NodeRole.NOC_TESTER,
        NodeRole.TRANSMISSION,
        NodeRole.CORE_NETWORK,
    }
)

#: The network side's token roles: they read every EOMS ticket and the SLA's timers.
NETWORK_TOKEN_ROLES: Final[tuple[TokenRole, ...]] = (
    TokenRole.NETWORK_STAFF, TokenRole.NETWORK_RESOURCE, TokenRole.DATA_PRODUCTION, TokenRole.FIELD_ENGINEER,
    TokenRole.NOC_TESTER, TokenRole.TRANSMISSION, TokenRole.CORE_NETWORK,
)

#: The node roles a token's role works: the node role of the same name, nothing else. Supervisors work
#: supervisor nodes and may override any node (the ticket records the override); admins act with a
#: supervisor's authority; agents, dispatchers and department heads work no node (a dispatcher
#: dispatches and reassigns: ``eoms_bridge/api/assignments.py``).
NODE_ROLES_OF_TOKEN_ROLE: Final[dict[TokenRole, frozenset[NodeRole]]] = {
    TokenRole.ACCOUNT_MANAGER: frozenset({NodeRole.ACCOUNT_MANAGER}),
    TokenRole.AGENT: frozenset(),
    TokenRole.COMPLAINT_DESK: frozenset({NodeRole.COMPLAINT_DESK}),
    TokenRole.DISPATCHER: frozenset(),
    TokenRole.NETWORK_STAFF: frozenset({NodeRole.NETWORK_STAFF}),
    TokenRole.NETWORK_RESOURCE: frozenset({NodeRole.NETWORK_RESOURCE}),
    TokenRole.DATA_PRODUCTION: frozenset({NodeRole.DATA_PRODUCTION}),
    TokenRole.FIELD_ENGINEER: frozenset({NodeRole.FIELD_ENGINEER}),
    TokenRole.NOC_TESTER: frozenset({NodeRole.NOC_TESTER}),
    TokenRole.TRANSMISSION: frozenset({NodeRole.TRANSMISSION}),
    TokenRole.CORE_NETWORK: frozenset({NodeRole.CORE_NETWORK}),
    TokenRole.PARTNER_SI: frozenset({NodeRole.PARTNER_SI}),
    TokenRole.SUPERVISOR: frozenset({NodeRole.SUPERVISOR}),
    TokenRole.DEPARTMENT_HEAD: frozenset(),
    TokenRole.ADMIN: frozenset({NodeRole.SUPERVISOR}),
    TokenRole.INTEGRATION: frozenset(),
}


def business_type(product: str, kind: str) -> str:
    """The EOMS business type ``<product>.<kind>`` (the key of a workflow)."""
    return f"{product}.{kind}"


def business_type_of_complaint(product: str | None) -> str:
    """A complaint's business type: ``<product>.complaint``, or ``generic.complaint`` without a product."""
    return business_type(product, WorkflowKind.COMPLAINT.value) if product else GENERIC_COMPLAINT


def is_business_type(value: str) -> bool:
    """``<product>.<kind>`` with a known product and kind, or ``generic.complaint``."""
    product, sep, kind = value.partition(".")
    return value == GENERIC_COMPLAINT or (bool(sep) and product in PRODUCT_IDS and kind in WORKFLOW_KINDS)


def node_roles_of(token_roles: Iterable[str]) -> frozenset[NodeRole]:
    """The node roles a token holding ``token_roles`` may work (unknown roles give nothing)."""
    out: set[NodeRole] = set()
    for role in token_roles:
        if role in TOKEN_ROLES:
            out |= NODE_ROLES_OF_TOKEN_ROLE[TokenRole(role)]
    return frozenset(out)


def role_satisfies(held: NodeRole | str, required: NodeRole | str) -> bool:
    """Whether a person holding ``held`` works a node requiring ``required``: the same role, nothing
    else (no role covers another; a supervisor's override is the ticket's to record, not a role's)."""
    return NodeRole(held) == NodeRole(required)
