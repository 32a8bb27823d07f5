"""Notify tables, in the `notify` schema."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from backbone.db import Id, event_tables, timestamp, timestamps

metadata = sa.MetaData(schema="notify")

# One row per (alert, recipient, channel): what was decided (queued → sending → sent → delivered,
# or suppressed / digested / failed) and the message that was (or would have been) sent.
deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("source_event_id", sa.String(80), nullable=False),
    sa.Column("source_event_type", sa.String(80), nullable=False),
    sa.Column("ticket_id", Id, nullable=True),
    sa.Column("recipient_id", sa.String(60), nullable=False),
    sa.Column("channel", sa.String(10), nullable=False),
    sa.Column("address", sa.String(200), nullable=False),
    sa.Column("lang", sa.String(10), nullable=False, server_default="zh-CN"),
    sa.Column("subject", sa.Text, nullable=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("body_html", sa.Text, nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    timestamp("next_attempt_at", nullable=True),
    # Dispatcher instance that holds the row in `sending` (liveness: its advisory lock).
    sa.Column("claimed_by", sa.String(40), nullable=True),
    sa.Column("provider_message_id", sa.String(200), nullable=True),
    sa.Column("resend_of", Id, nullable=True),
    sa.Column("meta", JSONB, nullable=False, server_default="{}"),
    *timestamps(),
    # Exactly one message per (event, recipient, channel), whatever the redeliveries; an admin
    # resend is a new row linked to the old one, outside this rule.
    sa.Index(
        "ux_notify_delivery_once", "source_event_id", "recipient_id", "channel",
        unique=True, postgresql_where=sa.text("resend_of IS NULL"),
    ),
    sa.Index("ix_notify_deliveries_due", "channel", "next_attempt_at",
             postgresql_where=sa.text("status IN ('queued', 'retrying')")),
    sa.Index("ix_notify_deliveries_sending", "claimed_by", postgresql_where=sa.text("status = 'sending'")),
    sa.Index("ix_notify_deliveries_ticket", "ticket_id", "created_at"),
    sa.Index("ix_notify_deliveries_recipient", "recipient_id", "created_at"),
)

# The anti-storm history: one policy decision per (alert, recipient), whatever the channels.
decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("source_event_id", sa.String(80), nullable=False),
    sa.Column("recipient_id", sa.String(60), nullable=False),
    sa.Column("event_type", sa.String(80), nullable=False),
    sa.Column("ticket_id", Id, nullable=True),
    sa.Column("level", sa.Integer, nullable=True),
    sa.Column("outcome", sa.String(20), nullable=False),  # send | suppress | digest
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("alert", JSONB, nullable=True),
    # A digested alert points at the summary that carried it once that summary is queued.
    sa.Column("digest_id", sa.String(80), nullable=True),
    timestamp("decided_at"),
    sa.PrimaryKeyConstraint("source_event_id", "recipient_id"),
    sa.Index("ix_notify_decisions_recipient", "recipient_id", "decided_at"),
    sa.Index("ix_notify_decisions_pending_digest", "recipient_id",
             postgresql_where=sa.text("outcome = 'digest' AND digest_id IS NULL")),
)

# SMSC message id of each submitted part, persisted as soon as the SMSC acknowledges it: a resend
# after a crash skips those parts, and delivery receipts find their delivery.
sms_parts = sa.Table(
    "sms_parts",
    metadata,
    sa.Column("delivery_id", Id, nullable=False),
    sa.Column("part_no", sa.Integer, nullable=False),
    sa.Column("message_id", sa.String(80), nullable=False),
    sa.Column("dlr_stat", sa.String(20), nullable=True),
    sa.Column("dlr_err", sa.String(10), nullable=True),
    timestamp("submitted_at", default_now=True),
    timestamp("dlr_at", nullable=True),
    sa.PrimaryKeyConstraint("delivery_id", "part_no"),
    sa.Index("ix_notify_sms_parts_message", "message_id"),
)

# Directory versions stored by the admin API; the newest is what every instance resolves with.
directory_versions = sa.Table(
    "directory_versions",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("content", JSONB, nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False),
    timestamp("created_at", default_now=True),
)

outbox, inbox = event_tables(metadata)
