"""SLA tables, in the `sla` schema.

- `policy_versions`: every policy set ever loaded (immutable per version) and the one active;
  all instances read the active version from here, so they agree.
- `timers`: one row per (ticket, node, entry). The domain `SlaTimer` (minus its policy, which is
  rebuilt from `policy_version` + `rule_id`) is kept in `state_data`; the columns beside it are
  denormalised for the scanner (`next_fire_at`), the at-risk list and the reports.
- `alerts`: every warning/breach/escalation/met the service emitted, and the feed-only records of a
  timer starting and being cancelled (`sla.timer_started`, `sla.timer_cancelled`: not published on
  Kafka). `(timer_id, action)` is unique: the database itself refuses a second firing. The live feed
  reads it in commit order.
- `customer_tiers`: the CRM's re-gradings (`crm.customer.tier_changed`), one row per change: a node
  entered after a change times with the customer's tier at that moment (docs/sla.md, "Tier changes").
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from backbone.db import BusinessTypeCode, Id, NodeName, TicketKindCode, TierCode, event_tables, timestamp

metadata = sa.MetaData(schema="sla")


policy_versions = sa.Table(
    "policy_versions",
    metadata,
    sa.Column("version", sa.String(80), primary_key=True),
    sa.Column("body", JSONB, nullable=False),  # the policy set as loaded (validated data)
    sa.Column("checksum", sa.String(64), nullable=False),  # sha256 of the canonical JSON body
    sa.Column("source", sa.String(300), nullable=False),  # "file:<path>" or "api"
    sa.Column("loaded_by", sa.String(200), nullable=False),
    timestamp("loaded_at", default_now=True),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.text("false")),
    timestamp("activated_at", nullable=True),
    # At most one active version, enforced by the database.
    sa.Index("ux_sla_policy_active", "active", unique=True, postgresql_where=sa.text("active")),
)

timers = sa.Table(
    "timers",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("ticket_id", Id, nullable=False),
    sa.Column("node", NodeName, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("ticket_kind", TicketKindCode, nullable=False),
    sa.Column("business_type", BusinessTypeCode, nullable=False),
    sa.Column("role", sa.String(80), nullable=False),
    sa.Column("assignee", sa.String(80), nullable=True),
    sa.Column("customer_id", Id, nullable=False),
    sa.Column("customer_name", sa.String(200), nullable=False),
    sa.Column("customer_tier", TierCode, nullable=False),
    sa.Column("account_manager_id", sa.String(80), nullable=False),
    sa.Column("customer_region", sa.String(60), nullable=True),  # from the ticket events (older ones lack it)
    sa.Column("policy_version", sa.String(80), nullable=False),
    sa.Column("rule_id", sa.String(120), nullable=False),
    timestamp("started_at"),
    timestamp("deadline"),
    timestamp("next_fire_at", nullable=True),
    sa.Column("escalation_level", sa.Integer, nullable=False, server_default="0"),
    timestamp("completed_at", nullable=True),
    timestamp("cancelled_at", nullable=True),
    sa.Column("met_late", sa.Boolean, nullable=True),
    sa.Column("elapsed_s", sa.Float, nullable=True),  # business time used, set when completed
    sa.Column("correlation_id", sa.String(128), nullable=True),  # of the entry event; alerts carry it on
    sa.Column("state_data", JSONB, nullable=False),  # the domain SlaTimer without its policy
    timestamp("updated_at", default_now=True),
    # A node entered again later (a workflow loop) is a new timer; a replayed entry is not, and
    # neither is an entry while the node's timer is still open: both are ON CONFLICT DO NOTHING.
    sa.Index("ux_sla_timers_entry", "ticket_id", "node", "started_at", unique=True),
    sa.Index("ux_sla_timers_open", "ticket_id", "node", unique=True,
             postgresql_where=sa.text("completed_at IS NULL AND cancelled_at IS NULL")),
    # Only timers with something left to fire are indexed: the scan stays small at 1M timers.
    sa.Index("ix_sla_timers_due", "next_fire_at", postgresql_where=sa.text("next_fire_at IS NOT NULL")),
    # At-risk list: open timers (running, warned, breached, escalated, paused) by deadline (keyset
    # pagination on (deadline, id)).
    sa.Index("ix_sla_timers_open_deadline", "deadline", "id",
             postgresql_where=sa.text("completed_at IS NULL AND cancelled_at IS NULL")),
    sa.Index("ix_sla_timers_completed", "completed_at", postgresql_where=sa.text("completed_at IS NOT NULL")),
)

#: The alert types the breaches report counts (`services.reports.breaches_per_day`), which `ix_sla_alerts_fired` holds.
BREACH_TYPES = ("sla.breached", "sla.escalated")

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
    # Transaction id of the writer: the feed reads (xid, id) below the oldest running
    # transaction, which is commit-safe where a bare sequence is not.
    sa.Column("xid", sa.BigInteger, nullable=False, server_default=sa.text("pg_current_xact_id()::text::bigint")),
    # The event's id: a published one's (sla.warning/breached/escalated/met) is unique in the outbox, written in the
    # same statement or transaction; a feed-only record's is drawn per record. Not indexed here: nothing reads an
    # alert by it, and a unique index of random ids cost every start and stop ~5 us of PostgreSQL (migration
    # f3a7c9e1b5d2).
    sa.Column("event_id", UUID(as_uuid=True), nullable=False),
    sa.Column("event_type", sa.String(40), nullable=False),
    sa.Column("timer_id", Id, nullable=False),
    sa.Column("action", sa.String(40), nullable=False),  # the domain action key, or "met" / "started" / "cancelled"
    sa.Column("ticket_id", Id, nullable=False),
    timestamp("due_at", nullable=True),
    timestamp("fired_at"),
    sa.Column("fired_by", sa.String(120), nullable=False),
    sa.Column("data", JSONB, nullable=False),  # the event payload
    sa.Index("ux_sla_alerts_once", "timer_id", "action", unique=True),
    sa.Index("ix_sla_alerts_feed", "xid", "id"),
    # The breaches-per-day report (`BREACH_TYPES`, inline in its query so the planner matches this predicate): only
    # those rows, where every start and stop writes an alert row (feed, `sla.met`).
    sa.Index("ix_sla_alerts_fired", "fired_at",
             postgresql_where=sa.text(f"event_type IN ({', '.join(repr(t) for t in BREACH_TYPES)})")),
)

customer_tiers = sa.Table(
    "customer_tiers",
    metadata,
    sa.Column("customer_id", Id, nullable=False),
    timestamp("changed_at"),  # when the CRM re-graded the customer (part of the key: a replay is a no-op)
    sa.Column("new_tier", TierCode, nullable=False),
    sa.Column("old_tier", TierCode, nullable=True),
    sa.Column("event_id", UUID(as_uuid=True), nullable=False),
    timestamp("recorded_at", default_now=True),
    sa.PrimaryKeyConstraint("customer_id", "changed_at"),
)

outbox, inbox = event_tables(metadata)

__all__ = ["alerts", "customer_tiers", "inbox", "metadata", "outbox", "policy_versions", "timers"]
