"""CRM's own identifiers (keep the values exactly).

The words shared with the other services (product ids, business kinds, tiers, roles, and the CRM's
words its events carry: ``SalesChannel``, ``ComplaintCategory``, ``ComplaintSeverity``,
``OpportunityState``) live in ``backbone.vocabulary``. Every enum is a ``StrEnum`` so that its members
serialise as their plain value in JSON, in events and in the database.
"""

from __future__ import annotations

from enum import StrEnum


class Platform(StrEnum):
    """Delivery platform of group SMS and mobile mailbox (an order-item attribute)."""

    MAS = "MAS"
    ADC = "ADC"


class BearerMode(StrEnum):
    VOICE = "voice"
    SMS = "sms"
    DATA = "data"
    ACCESS = "access"


class Industry(StrEnum):
    """Industry of an enterprise customer. The first three are always "key" customers."""

    PARTY_GOVERNMENT = "party_government"
    MILITARY = "military"
    FINANCE = "finance"
    EDUCATION = "education"
    HEALTHCARE = "healthcare"
    MANUFACTURING = "manufacturing"
    LOGISTICS = "logistics"
    ENERGY_UTILITIES = "energy_utilities"
    CONSTRUCTION_REAL_ESTATE = "construction_real_estate"
    RETAIL = "retail"
    INFORMATION_TECHNOLOGY = "information_technology"
    MEDIA_CULTURE = "media_culture"
    HOSPITALITY_TOURISM = "hospitality_tourism"
    AGRICULTURE = "agriculture"
    OTHER = "other"


class UnifiedPayment(StrEnum):
    """How far the enterprise pays its staff's mobile bills centrally (统一付费)."""

    NONE = "none"
    PARTIAL = "partial"
    FULL = "full"


class KeyPersonKind(StrEnum):
    """The four kinds of key person (关键人物) kept per customer."""

    DECISION_MAKER = "decision_maker"
    DAILY_CONTACT = "daily_contact"
    MIDDLE_MANAGER = "middle_manager"
    INFLUENCER = "influencer"
