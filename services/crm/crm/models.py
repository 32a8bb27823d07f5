"""CRM tables, in the `crm` schema (no other service reads them)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from backbone.db import idempotency_table, inbox_table, outbox_table

metadata = MetaData(schema="crm")
JsonB = JSONB()


def _timestamps() -> list[Column[object]]:
    return [
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ]


customers = Table(
    "customers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("uscc", String(18), nullable=False, unique=True),
    Column("industry", String(60), nullable=False),
    Column("region", String(60), nullable=False),
    Column("account_manager_id", String(60), nullable=False, index=True),
    Column("tier", String(1), nullable=False),
    Column("key_customer", Boolean, nullable=False, server_default="false"),
    Column("tier_score", Float, nullable=False, server_default="0"),
    # The grading inputs (CustomerFactors less the industry) and the grading itself (TierResult):
    # the API shows why a customer has its tier as it was graded, even after the weights change.
    Column("tier_factors", JsonB, nullable=False, server_default="{}"),
    Column("tier_result", JsonB, nullable=False, server_default="{}"),
    Column("tier_config_version", Integer, nullable=False, server_default="1"),
    Column("created_by", String(60), nullable=False, server_default="system"),
    *_timestamps(),
    Column("version", Integer, nullable=False, server_default="1"),
    Index("ix_crm_customers_created", "created_at", "id"),
    Index("ix_crm_customers_name", "name", "id"),
)

key_persons = Table(
    "key_persons",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("customer_id", String(40), ForeignKey("crm.customers.id"), nullable=False, index=True),
    Column("kind", String(30), nullable=False),
    Column("name", String(100), nullable=False),
    Column("title", String(100), nullable=True),
    Column("phone", String(40), nullable=True),
    Column("email", String(254), nullable=True),
    *_timestamps(),
)

opportunities = Table(
    "opportunities",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("customer_id", String(40), ForeignKey("crm.customers.id"), nullable=False, index=True),
    Column("account_manager_id", String(60), nullable=False, index=True),
    Column("title", String(200), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("products", JsonB, nullable=False, server_default="[]"),
    Column("expected_monthly_revenue", Float, nullable=True),
    Column("note", Text, nullable=True),
    Column("status", String(20), nullable=False),
    Column("status_reason", Text, nullable=True),
    Column("created_by", String(60), nullable=False),
    *_timestamps(),
    Index("ix_crm_opportunities_created", "created_at", "id"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("customer_id", String(40), ForeignKey("crm.customers.id"), nullable=False),
    Column("account_manager_id", String(60), nullable=False, index=True),
    Column("channel", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("status_reason", Text, nullable=True),
    Column("opportunity_id", String(40), ForeignKey("crm.opportunities.id"), nullable=True),
    Column("note", Text, nullable=True),
    Column("created_by", String(60), nullable=False),
    # [{from, to, action, by, at, reason}]: the order's own status trail
    Column("history", JsonB, nullable=False, server_default="[]"),
    *_timestamps(),
    Column("version", Integer, nullable=False, server_default="1"),
    Index("ix_crm_orders_status_created", "status", "created_at"),
    Index("ix_crm_orders_created", "created_at", "id"),
    Index("ix_crm_orders_customer", "customer_id"),
)

order_items = Table(
    "order_items",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("order_id", String(40), ForeignKey("crm.orders.id"), nullable=False, index=True),
    Column("position", Integer, nullable=False, server_default="0"),
    Column("product", String(40), nullable=False),
    Column("business_kind", String(20), nullable=False),
    Column("attributes", JsonB, nullable=False),
)

complaints = Table(
    "complaints",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("customer_id", String(40), ForeignKey("crm.customers.id"), nullable=False, index=True),
    Column("account_manager_id", String(60), nullable=False, index=True),
    Column("category", String(30), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("product", String(40), nullable=True),
    Column("service_ref", String(200), nullable=True),
    Column("description", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("satisfaction", Integer, nullable=True),
    Column("revisit_note", Text, nullable=True),
    Column("created_by", String(60), nullable=False),
    Column("history", JsonB, nullable=False, server_default="[]"),
    *_timestamps(),
    Column("version", Integer, nullable=False, server_default="1"),
    Index("ix_crm_complaints_created", "created_at", "id"),
)

# The EOMS tickets of orders and complaints as the CRM learnt of them from `eoms.tickets`.
tickets = Table(
    "tickets",
    metadata,
    Column("ticket_id", String(40), primary_key=True),
    Column("origin", String(20), nullable=False),
    Column("origin_id", String(40), nullable=False),
    Column("ticket_kind", String(40), nullable=False),
    Column("business_type", String(80), nullable=False),
    Column("state", String(20), nullable=False),
    Column("node", String(80), nullable=True),
    Column("reason", Text, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # [{event_id, event, state, node, at, reason?}]; event ids make a redelivery a no-op
    Column("trail", JsonB, nullable=False, server_default="[]"),
    Index("ix_crm_tickets_origin", "origin", "origin_id"),
)

# The latest SLA alert per ticket (from `sla.alerts`), for the account manager's workbench.
sla_alerts = Table(
    "sla_alerts",
    metadata,
    Column("ticket_id", String(40), primary_key=True),
    Column("timer_id", String(60), nullable=False),
    Column("level", String(20), nullable=False),  # warning | breached | escalated | met
    Column("escalation_level", Integer, nullable=True),
    Column("node", String(80), nullable=False),
    Column("role", String(60), nullable=False),
    Column("deadline", DateTime(timezone=True), nullable=False),
    Column("customer_id", String(40), nullable=False),
    Column("account_manager_id", String(60), nullable=False, index=True),
    Column("event_time", DateTime(timezone=True), nullable=False),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
idempotency_keys = idempotency_table(metadata)
