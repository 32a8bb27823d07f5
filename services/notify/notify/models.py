"""Notify tables, in the `notify` schema."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from backbone.db import inbox_table, outbox_table

metadata = MetaData(schema="notify")

# One row per (alert, recipient, channel): what was decided (queued → sending → sent → delivered,
# or suppressed / digested / failed) and the message that was (or would have been) sent.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("source_event_id", String(80), nullable=False),
    Column("source_event_type", String(80), nullable=False),
    Column("ticket_id", String(40), nullable=True),
    Column("recipient_id", String(60), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("address", String(200), nullable=False),
    Column("lang", String(10), nullable=False, server_default="zh-CN"),
    Column("subject", Text, nullable=True),
    Column("body", Text, nullable=False),
    Column("body_html", Text, nullable=True),
    Column("status", String(20), nullable=False),
    Column("reason", Text, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    # Dispatcher instance that holds the row in `sending` (liveness: its advisory lock).
    Column("claimed_by", String(40), nullable=True),
    Column("provider_message_id", String(200), nullable=True),
    Column("resend_of", String(40), nullable=True),
    Column("meta", JSONB, nullable=False, server_default="{}"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Exactly one message per (event, recipient, channel), whatever the redeliveries; an admin
    # resend is a new row linked to the old one, outside this rule.
    Index(
        "ux_notify_delivery_once", "source_event_id", "recipient_id", "channel",
        unique=True, postgresql_where=text("resend_of IS NULL"),
    ),
    Index("ix_notify_deliveries_due", "channel", "next_attempt_at",
          postgresql_where=text("status IN ('queued', 'retrying')")),
    Index("ix_notify_deliveries_sending", "claimed_by", postgresql_where=text("status = 'sending'")),
    Index("ix_notify_deliveries_ticket", "ticket_id", "created_at"),
    Index("ix_notify_deliveries_recipient", "recipient_id", "created_at"),
)

# The anti-storm history: one policy decision per (alert, recipient), whatever the channels.
decisions = Table(
    "decisions",
    metadata,
    Column("source_event_id", String(80), nullable=False),
    Column("recipient_id", String(60), nullable=False),
    Column("event_type", String(80), nullable=False),
    Column("ticket_id", String(40), nullable=True),
    Column("level", Integer, nullable=True),
    Column("outcome", String(20), nullable=False),  # send | suppress | digest
    Column("reason", Text, nullable=False),
    Column("alert", JSONB, nullable=True),
    # A digested alert points at the summary that carried it once that summary is queued.
    Column("digest_id", String(80), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("source_event_id", "recipient_id"),
    Index("ix_notify_decisions_recipient", "recipient_id", "decided_at"),
    Index("ix_notify_decisions_pending_digest", "recipient_id",
          postgresql_where=text("outcome = 'digest' AND digest_id IS NULL")),
)

# SMSC message id of each submitted part, persisted as soon as the SMSC acknowledges it: a resend
# after a crash skips those parts, and delivery receipts find their delivery.
sms_parts = Table(
    "sms_parts",
    metadata,
    Column("delivery_id", String(40), nullable=False),
    Column("part_no", Integer, nullable=False),
    Column("message_id", String(80), nullable=False),
    Column("dlr_stat", String(20), nullable=True),
    Column("dlr_err", String(10), nullable=True),
    Column("submitted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("dlr_at", DateTime(timezone=True), nullable=True),
    PrimaryKeyConstraint("delivery_id", "part_no"),
    Index("ix_notify_sms_parts_message", "message_id"),
)

# Directory versions stored by the admin API; the newest is what every instance resolves with.
directory_versions = Table(
    "directory_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=True),
    Column("content", JSONB, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
