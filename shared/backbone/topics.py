"""The suite's topics: one per aggregate stream, keyed by subject, each with its dead-letter topic."""

from __future__ import annotations

from dataclasses import dataclass

CRM_ORDERS = "crm.orders"
CRM_COMPLAINTS = "crm.complaints"
CRM_CUSTOMERS = "crm.customers"
CRM_OPPORTUNITIES = "crm.opportunities"
EOMS_TICKETS = "eoms.tickets"
SLA_ALERTS = "sla.alerts"
NOTIFY_DELIVERIES = "notify.deliveries"
STATS_REPORTS = "stats.reports"

STREAMS = [CRM_ORDERS, CRM_COMPLAINTS, CRM_CUSTOMERS, CRM_OPPORTUNITIES, EOMS_TICKETS, SLA_ALERTS, NOTIFY_DELIVERIES,
           STATS_REPORTS]


def dlq(topic: str) -> str:
    return f"{topic}.dlq"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int


ALL_TOPICS = [TopicSpec(t, 4) for t in STREAMS] + [TopicSpec(dlq(t), 1) for t in STREAMS]


#: The CRM reads its own order and complaint streams too: the TMF hub's fan-out (backbone.hub, docs/tmf.md).
CRM_CONSUMES = (CRM_ORDERS, CRM_COMPLAINTS, EOMS_TICKETS, SLA_ALERTS)


@dataclass(frozen=True)
class KafkaAccess:
    """What one service's Kafka principal may do (docs/security.md, item 6): produce its own streams, consume
    the streams it follows with its consumer group, dead-letter what it consumes, and describe (metadata and
    offsets, never records) every topic of the suite (readiness, the ops status page)."""

    produces: tuple[str, ...]
    consumes: tuple[str, ...]
    group: str  # ServiceSettings.group_id: CONSUMER_GROUP, by default the service's name

    @property
    def writes(self) -> tuple[str, ...]:
        return (*self.produces, *(dlq(t) for t in self.consumes))


#: Per service (its Kafka principal is `User:<service>`): the ACLs `python -m backbone.release kafka-acls`
#: creates (docker-compose) and the Strimzi KafkaUsers of deploy/k8s/kafka-users.yaml declare.
#: tests/security/test_security_deploy.py checks this map against each service's bootstrap and the manifests.
KAFKA_ACCESS: dict[str, KafkaAccess] = {
    "crm": KafkaAccess(produces=(CRM_ORDERS, CRM_COMPLAINTS, CRM_CUSTOMERS, CRM_OPPORTUNITIES),
                       consumes=CRM_CONSUMES, group="crm"),
    "eoms-bridge": KafkaAccess(produces=(EOMS_TICKETS,), consumes=(CRM_ORDERS, CRM_COMPLAINTS, EOMS_TICKETS),
                               group="eoms-bridge"),  # eoms.tickets: the TMF621 hub's fan-out
    "sla": KafkaAccess(produces=(SLA_ALERTS,), consumes=(EOMS_TICKETS, CRM_CUSTOMERS), group="sla"),
    "notify": KafkaAccess(produces=(NOTIFY_DELIVERIES,), consumes=(SLA_ALERTS, STATS_REPORTS), group="notify"),
    "stats": KafkaAccess(produces=(STATS_REPORTS,),
                         consumes=(CRM_ORDERS, CRM_COMPLAINTS, CRM_OPPORTUNITIES, EOMS_TICKETS, SLA_ALERTS),
                         group="stats"),
}
