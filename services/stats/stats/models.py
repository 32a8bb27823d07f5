"""Stats tables, in the `stats` schema: the read model fed by the suite's topics, and the daily reports.

Every fact table is insert-only and keyed by what makes the fact unique (an order item, an event id):
`INSERT ... ON CONFLICT DO NOTHING`. Facts that belong together (a node entered and completed, a
complaint and its revisit, an opportunity and its decision) are paired when a figure is read, never
when an event is applied. So the read model does not depend on the order events arrive in, across
topics or across a replay, and applying an event twice (a redelivery, a second consumer group, a
rebuild racing the live consumer) changes nothing. `day` is the local day (Asia/Shanghai) of the
fact's time, computed once when it is stored.
"""

from __future__ import annotations

import sqlalchemy as sa

from backbone.db import event_tables, timestamp

metadata = sa.MetaData(schema="stats")

#: What the facts keep of an event's fields (ids, roles, people, regions, channels): as long as the event carries
#: them. The events' schemas bound none of them, so a bounded column made one long value a record the read model
#: could not store (a rebuild stopped on it).
Unbounded = sa.Text()

# One row per item of a submitted order (crm.order.submitted): volumes per product, channel, region, day.
order_items = sa.Table(
    "order_items",
    metadata,
    sa.Column("order_id", Unbounded, nullable=False),
    sa.Column("item_id", Unbounded, nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("product", Unbounded, nullable=False),
    sa.Column("business_type", Unbounded, nullable=False),
    sa.Column("channel", Unbounded, nullable=False),
    sa.Column("region", Unbounded, nullable=True),
    sa.Column("customer_id", Unbounded, nullable=False),
    sa.Column("account_manager_id", Unbounded, nullable=False),
    timestamp("submitted_at"),
    sa.PrimaryKeyConstraint("order_id", "item_id"),
    sa.Index("ix_stats_order_items_day", "day"),
)

# One row per complaint (crm.complaint.created).
complaints = sa.Table(
    "complaints",
    metadata,
    sa.Column("complaint_id", Unbounded, primary_key=True),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("product", Unbounded, nullable=True),
    sa.Column("category", Unbounded, nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("region", Unbounded, nullable=True),
    sa.Column("customer_id", Unbounded, nullable=False),
    sa.Column("account_manager_id", Unbounded, nullable=False),
    timestamp("created_at"),
    sa.Index("ix_stats_complaints_day", "day"),
)

# One row per revisit (crm.complaint.status_changed carrying a satisfaction score, 1..5).
revisits = sa.Table(
    "revisits",
    metadata,
    sa.Column("event_id", sa.String(80), primary_key=True),
    sa.Column("complaint_id", Unbounded, nullable=False, index=True),
    sa.Column("day", sa.Date, nullable=False, index=True),
    sa.Column("satisfaction", sa.SmallInteger, nullable=False),
    timestamp("revisited_at"),
)

# One row per opportunity (crm.opportunity.created) and one per decision (crm.opportunity.status_changed).
opportunities = sa.Table(
    "opportunities",
    metadata,
    sa.Column("opportunity_id", Unbounded, primary_key=True),
    sa.Column("day", sa.Date, nullable=False, index=True),
    sa.Column("channel", Unbounded, nullable=False),
    sa.Column("customer_id", Unbounded, nullable=False),
    sa.Column("account_manager_id", Unbounded, nullable=False),
    timestamp("created_at"),
)
opportunity_changes = sa.Table(
    "opportunity_changes",
    metadata,
    sa.Column("event_id", sa.String(80), primary_key=True),
    sa.Column("opportunity_id", Unbounded, nullable=False, index=True),
    sa.Column("to_status", Unbounded, nullable=False),
    timestamp("changed_at"),
)

# One row per node event of a ticket (eoms.ticket.node_entered / node_completed / node_assigned): a visit's
# time is a completion paired with the latest entry of the same (ticket, node) before it.
node_events = sa.Table(
    "node_events",
    metadata,
    sa.Column("event_id", sa.String(80), primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),  # entered | completed | assigned
    sa.Column("ticket_id", Unbounded, nullable=False),
    sa.Column("node", Unbounded, nullable=False),
    sa.Column("role", Unbounded, nullable=False),
    sa.Column("assignee", Unbounded, nullable=True),
    sa.Column("business_type", Unbounded, nullable=False),
    sa.Column("region", Unbounded, nullable=True),
    sa.Column("day", sa.Date, nullable=False),
    timestamp("at"),
    sa.Index("ix_stats_node_events_visit", "ticket_id", "node", "at"),
    sa.Index("ix_stats_node_events_day", "kind", "day"),
)

# One row per SLA alert (sla.met / sla.breached / sla.escalated).
sla_alerts = sa.Table(
    "sla_alerts",
    metadata,
    sa.Column("event_id", sa.String(80), primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),  # met | breached | escalated
    sa.Column("timer_id", Unbounded, nullable=False),
    sa.Column("ticket_id", Unbounded, nullable=False),
    sa.Column("node", Unbounded, nullable=False),
    sa.Column("role", Unbounded, nullable=False),
    sa.Column("assignee", Unbounded, nullable=True),
    sa.Column("late", sa.Boolean, nullable=True),
    sa.Column("level", sa.Integer, nullable=True),
    sa.Column("day", sa.Date, nullable=False),
    timestamp("at"),
    sa.Index("ix_stats_sla_alerts_day", "kind", "day"),
)

FACT_TABLES = (order_items, complaints, revisits, opportunities, opportunity_changes, node_events, sla_alerts)

# The daily reports: one row per report day, inserted ahead (`pending`, due at 08:00 the next morning,
# Asia/Shanghai) and claimed when due with FOR UPDATE SKIP LOCKED: generated once, whatever the instances.
daily_reports = sa.Table(
    "daily_reports",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    timestamp("due_at"),
    sa.Column("status", sa.String(10), nullable=False, server_default="pending"),  # pending | done
    timestamp("generated_at", nullable=True),
    sa.Column("generated_by", sa.String(80), nullable=True),
    sa.Column("filename", sa.String(120), nullable=True),
    sa.Column("content", sa.Text, nullable=True),
    sa.Column("rows", sa.Integer, nullable=True),
    sa.Index("ix_stats_daily_reports_due", "due_at", postgresql_where=sa.text("status = 'pending'")),
)

outbox, inbox = event_tables(metadata)
