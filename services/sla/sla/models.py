"""SLA tables, in the `sla` schema. `next_fire_at` is the one column the scanner looks at."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, func, text
from sqlalchemy.dialects.postgresql import JSONB

from backbone.db import inbox_table, outbox_table

metadata = MetaData(schema="sla")

timers = Table(
    "timers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("ticket_id", String(40), nullable=False),
    Column("node", String(80), nullable=False),
    Column("state", String(20), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("deadline", DateTime(timezone=True), nullable=False),
    Column("next_fire_at", DateTime(timezone=True), nullable=True),
    Column("escalation_level", Integer, nullable=False, server_default="0"),
    Column("context", JSONB, nullable=False),
    Column("policy_version", String(40), nullable=False),
    Column("stopped_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ux_sla_timers_ticket_node", "ticket_id", "node", unique=True),
    # Only open timers with something left to fire are indexed: the scan stays small at 1M timers.
    Index("ix_sla_timers_due", "next_fire_at", postgresql_where=text("next_fire_at IS NOT NULL")),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
