"""The suite's topics: one per aggregate stream, keyed by subject, each with its dead-letter topic."""

from __future__ import annotations

from dataclasses import dataclass

CRM_ORDERS = "crm.orders"
CRM_COMPLAINTS = "crm.complaints"
CRM_CUSTOMERS = "crm.customers"
EOMS_TICKETS = "eoms.tickets"
SLA_ALERTS = "sla.alerts"
NOTIFY_DELIVERIES = "notify.deliveries"

STREAMS = [CRM_ORDERS, CRM_COMPLAINTS, CRM_CUSTOMERS, EOMS_TICKETS, SLA_ALERTS, NOTIFY_DELIVERIES]


def dlq(topic: str) -> str:
    return f"{topic}.dlq"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int


ALL_TOPICS = [TopicSpec(t, 4) for t in STREAMS] + [TopicSpec(dlq(t), 1) for t in STREAMS]
