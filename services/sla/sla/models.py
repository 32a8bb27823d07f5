"""SLA tables, in the `sla` schema.

- `policy_versions`: every policy set ever loaded (immutable per version) and the one active;
  all instances read the active version from here, so they agree.
- `timers`: one row per (ticket, node, entry). The domain `SlaTimer` (minus its policy, which is
  rebuilt from `policy_version` + `rule_id`) is kept in `state_data`; the columns beside it are
  denormalised for the scanner (`next_fire_at`), the at-risk list and the reports.
- `alerts`: every warning/breach/escalation/met the service emitted. `(timer_id, action)` is
  unique: the database itself refuses a second firing. The live feed reads it in commit order.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from backbone.db import inbox_table, outbox_table

metadata = MetaData(schema="sla")


policy_versions = Table(
    "policy_versions",
    metadata,
    Column("version", String(80), primary_key=True),
    Column("body", JSONB, nullable=False),  # the policy set as loaded (validated data)
    Column("checksum", String(64), nullable=False),  # sha256 of the canonical JSON body
    Column("source", String(300), nullable=False),  # "file:<path>" or "api"
    Column("loaded_by", String(200), nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("active", Boolean, nullable=False, server_default=text("false")),
    Column("activated_at", DateTime(timezone=True), nullable=True),
    # At most one active version, enforced by the database.
    Index("ux_sla_policy_active", "active", unique=True, postgresql_where=text("active")),
)

timers = Table(
    "timers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("ticket_id", String(40), nullable=False),
    Column("node", String(80), nullable=False),
    Column("state", String(20), nullable=False),
    Column("ticket_kind", String(40), nullable=False),
    Column("business_type", String(80), nullable=False),
    Column("role", String(80), nullable=False),
    Column("assignee", String(80), nullable=True),
    Column("customer_id", String(40), nullable=False),
    Column("customer_name", String(200), nullable=False),
    Column("customer_tier", String(1), nullable=False),
    Column("account_manager_id", String(80), nullable=False),
    Column("policy_version", String(80), nullable=False),
    Column("rule_id", String(120), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("deadline", DateTime(timezone=True), nullable=False),
    Column("next_fire_at", DateTime(timezone=True), nullable=True),
    Column("escalation_level", Integer, nullable=False, server_default="0"),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("cancelled_at", DateTime(timezone=True), nullable=True),
    Column("met_late", Boolean, nullable=True),
    Column("elapsed_s", Float, nullable=True),  # business time used, set when completed
    Column("correlation_id", String(128), nullable=True),  # of the entry event; alerts carry it on
    Column("state_data", JSONB, nullable=False),  # the domain SlaTimer without its policy
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # A node entered again later (a workflow loop) is a new timer; a replayed entry is not, and
    # neither is an entry while the node's timer is still open: both are ON CONFLICT DO NOTHING.
    Index("ux_sla_timers_entry", "ticket_id", "node", "started_at", unique=True),
    Index("ux_sla_timers_open", "ticket_id", "node", unique=True,
          postgresql_where=text("completed_at IS NULL AND cancelled_at IS NULL")),
    # Only timers with something left to fire are indexed: the scan stays small at 1M timers.
    Index("ix_sla_timers_due", "next_fire_at", postgresql_where=text("next_fire_at IS NOT NULL")),
    # At-risk list: live, not yet breached timers by deadline (keyset pagination on (deadline, id)).
    Index("ix_sla_timers_at_risk", "deadline", "id", postgresql_where=text("state IN ('running', 'warned')")),
    Index("ix_sla_timers_completed", "completed_at", postgresql_where=text("completed_at IS NOT NULL")),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    # Transaction id of the writer: the feed reads (xid, id) below the oldest running
    # transaction, which is commit-safe where a bare sequence is not.
    Column("xid", BigInteger, nullable=False, server_default=text("pg_current_xact_id()::text::bigint")),
    Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("event_type", String(40), nullable=False),
    Column("timer_id", String(40), nullable=False),
    Column("action", String(40), nullable=False),  # the domain action key, or "met"
    Column("ticket_id", String(40), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=True),
    Column("fired_at", DateTime(timezone=True), nullable=False),
    Column("fired_by", String(120), nullable=False),
    Column("data", JSONB, nullable=False),  # the event payload
    Index("ux_sla_alerts_once", "timer_id", "action", unique=True),
    Index("ix_sla_alerts_feed", "xid", "id"),
    Index("ix_sla_alerts_ticket", "ticket_id"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

__all__ = ["alerts", "inbox", "metadata", "outbox", "policy_versions", "timers"]
