"""Identifiers shared with the other services of the suite (keep the values exactly).

Every enum is a ``StrEnum`` so that its members serialise as their plain value in JSON,
in events and in the database.
"""

from __future__ import annotations

from enum import StrEnum


class ProductId(StrEnum):
    """The eight product ids of the catalogue (nine typical products: see ``Platform``)."""

    VPMN = "vpmn"
    MOBILE_SWITCHBOARD = "mobile_switchboard"
    GROUP_SMS = "group_sms"
    INDUSTRY_OTA = "industry_ota"
    M2M = "m2m"
    MOBILE_MAILBOX = "mobile_mailbox"
    DEDICATED_LINE_DATA = "dedicated_line_data"
    DEDICATED_LINE_INTERNET = "dedicated_line_internet"


class Platform(StrEnum):
    """Delivery platform of group SMS and mobile mailbox (an order-item attribute)."""

    MAS = "MAS"
    ADC = "ADC"


class BearerMode(StrEnum):
    VOICE = "voice"
    SMS = "sms"
    DATA = "data"
    ACCESS = "access"


class BusinessKind(StrEnum):
    OPENING = "opening"
    CHANGE = "change"
    CANCELLATION = "cancellation"


class Tier(StrEnum):
    A = "A"
    B = "B"
    C = "C"


class Channel(StrEnum):
    ACCOUNT_MANAGER = "account_manager"
    AGENT = "agent"
    WEB_PORTAL = "web_portal"


class Role(StrEnum):
    ACCOUNT_MANAGER = "account_manager"
    NETWORK_STAFF = "network_staff"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


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


class ComplaintCategory(StrEnum):
    FAULT = "fault"
    SERVICE_QUALITY = "service_quality"
    BILLING = "billing"
    BUSINESS_HANDLING = "business_handling"
    OTHER = "other"


class Severity(StrEnum):
    """Complaint severity; values match ``backbone.events.ComplaintCreated.severity``."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class KeyPersonKind(StrEnum):
    """The four kinds of key person (关键人物) kept per customer."""

    DECISION_MAKER = "decision_maker"
    DAILY_CONTACT = "daily_contact"
    MIDDLE_MANAGER = "middle_manager"
    INFLUENCER = "influencer"
