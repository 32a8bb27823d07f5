"""EOMS bridge tables, in the `eoms` schema."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from backbone.db import inbox_table, outbox_table

metadata = MetaData(schema="eoms")

# Every loaded workflow version, shared by all instances (the YAML catalog is synced in at start;
# the admin API adds versions). A row is immutable: a change is a new version.
workflow_definitions = Table(
    "workflow_definitions",
    metadata,
    Column("id", String(120), nullable=False),
    Column("version", Integer, nullable=False),
    Column("business_type", String(80), nullable=False),
    Column("definition", JSONB, nullable=False),
    Column("source", String(40), nullable=False),  # "catalog" (YAML shipped with the code) or "admin:<user>"
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("id", "version", name="pk_eoms_workflow_definitions"),
    Index("ix_eoms_workflow_definitions_type", "business_type", "version"),
)

# One row per ticket: indexed columns for queries, `snapshot` to rehydrate the domain Ticket,
# `version` for optimistic locking (every write checks and bumps it).
tickets = Table(
    "tickets",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("business_type", String(80), nullable=False),
    Column("origin", String(20), nullable=False),
    Column("origin_id", String(40), nullable=False),
    # Order item id, or the complaint id again for complaints (NOT NULL so the unique key holds).
    Column("origin_item_id", String(40), nullable=False),
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
    Column("severity", String(20), nullable=True),
    Column("description", Text, nullable=True),
    Column("data", JSONB, nullable=False, server_default="{}"),  # order item attributes / complaint facts
    Column("snapshot", JSONB, nullable=False),
    Column("external_ref", String(120), nullable=True),  # id in the external EOMS (adapter mode)
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("version", Integer, nullable=False, server_default="1"),
    # One event, one set of tickets: redeliveries and competing consumer groups hit this key.
    UniqueConstraint("origin_id", "origin_item_id", "kind", name="uq_eoms_tickets_origin_kind"),
    Index("ix_eoms_tickets_origin", "origin", "origin_id"),
    Index("ix_eoms_tickets_external_ref", "external_ref", postgresql_where=text("external_ref IS NOT NULL")),
    # Work queues: open tasks of a role, oldest first.
    Index(
        "ix_eoms_tickets_queue", "current_role", "node_entered_at", "id",
        postgresql_where=text("state IN ('acknowledged', 'in_progress', 'pending')"),
    ),
)

# Audit trail: one row per domain event (who, when, node, outcome, state change).
ticket_history = Table(
    "ticket_history",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("ticket_id", String(40), nullable=False, index=True),
    Column("event_type", String(60), nullable=False),
    Column("node", String(80), nullable=True),
    Column("role", String(60), nullable=True),
    Column("outcome", String(80), nullable=True),
    Column("from_state", String(20), nullable=True),
    Column("to_state", String(20), nullable=True),
    Column("actor", String(60), nullable=False),
    Column("note", Text, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
)

# Durable queue of messages for the external EOMS (adapter mode), written in the transaction of the
# change; the forwarder delivers them in `seq` order with retries, so a crash never loses a forward.
forward_queue = Table(
    "forward_queue",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=True),
    Column("ticket_id", String(40), nullable=False),
    Column("message_type", String(40), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Index("ix_eoms_forward_queue_due", "next_attempt_at", "seq", postgresql_where=text("sent_at IS NULL")),
)

# Callbacks of the external EOMS already applied (its callback id is the idempotency key).
eoms_callbacks = Table(
    "eoms_callbacks",
    metadata,
    Column("callback_id", String(120), primary_key=True),
    Column("ticket_id", String(40), nullable=False),
    Column("action", String(20), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
