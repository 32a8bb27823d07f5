"""EOMS bridge tables, in the `eoms` schema."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from backbone.db import inbox_table, outbox_table

metadata = MetaData(schema="eoms")

tickets = Table(
    "tickets",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("business_type", String(80), nullable=False),
    Column("origin", String(20), nullable=False),
    Column("origin_id", String(40), nullable=False),
    Column("origin_item_id", String(40), nullable=True),
    Column("customer_id", String(40), nullable=False),
    Column("customer_name", String(200), nullable=False),
    Column("customer_tier", String(1), nullable=False),
    Column("account_manager_id", String(60), nullable=False),
    Column("workflow_id", String(120), nullable=False),
    Column("workflow_version", Integer, nullable=False),
    Column("state", String(20), nullable=False),
    Column("current_node", String(80), nullable=True),
    Column("current_role", String(60), nullable=True),
    Column("assignee", String(60), nullable=True),
    Column("node_entered_at", DateTime(timezone=True), nullable=True),
    Column("data", JSONB, nullable=False, server_default="{}"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("version", Integer, nullable=False, server_default="1"),
    Index("ix_eoms_tickets_origin", "origin", "origin_id"),
    Index("ix_eoms_tickets_queue", "current_role", "state", "node_entered_at"),
)

ticket_history = Table(
    "ticket_history",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("ticket_id", String(40), nullable=False, index=True),
    Column("node", String(80), nullable=True),
    Column("role", String(60), nullable=True),
    Column("action", String(40), nullable=False),
    Column("outcome", String(80), nullable=True),
    Column("actor", String(60), nullable=False),
    Column("note", Text, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
