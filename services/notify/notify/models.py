"""Notify tables, in the `notify` schema."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB

from backbone.db import inbox_table, outbox_table

metadata = MetaData(schema="notify")

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("source_event_id", String(40), nullable=False),
    Column("source_event_type", String(80), nullable=False),
    Column("ticket_id", String(40), nullable=True),
    Column("recipient_id", String(60), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("address", String(200), nullable=False),
    Column("subject", Text, nullable=True),
    Column("body", Text, nullable=False),
    Column("body_html", Text, nullable=True),
    Column("status", String(20), nullable=False),
    Column("reason", Text, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("provider_message_id", String(200), nullable=True),
    Column("meta", JSONB, nullable=False, server_default="{}"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Exactly one message per (event, recipient, channel), whatever the redeliveries.
    Index("ux_notify_delivery_once", "source_event_id", "recipient_id", "channel", unique=True),
    Index("ix_notify_deliveries_due", "next_attempt_at", postgresql_where=text("status IN ('queued', 'retrying')")),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
