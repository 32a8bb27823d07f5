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
    Column("tier_factors", JsonB, nullable=False, server_default="{}"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

orders = Table(
    "orders",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("customer_id", String(40), ForeignKey("crm.customers.id"), nullable=False),
    Column("account_manager_id", String(60), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("opportunity_id", String(40), nullable=True),
    Column("note", Text, nullable=True),
    Column("created_by", String(60), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("version", Integer, nullable=False, server_default="1"),
    Index("ix_crm_orders_status_created", "status", "created_at"),
    Index("ix_crm_orders_customer", "customer_id"),
)

order_items = Table(
    "order_items",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("order_id", String(40), ForeignKey("crm.orders.id"), nullable=False, index=True),
    Column("product", String(40), nullable=False),
    Column("business_kind", String(20), nullable=False),
    Column("attributes", JsonB, nullable=False),
)

order_tickets = Table(
    "order_tickets",
    metadata,
    Column("ticket_id", String(40), primary_key=True),
    Column("order_id", String(40), nullable=False, index=True),
    Column("ticket_kind", String(40), nullable=False),
    Column("state", String(20), nullable=False),
    Column("node", String(80), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("trail", JsonB, nullable=False, server_default="[]"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
idempotency_keys = idempotency_table(metadata)
