"""CRM tables, in the `crm` schema (no other service reads them)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from backbone.db import (
    BusinessTypeCode,
    Id,
    NodeName,
    ProductCode,
    TicketKindCode,
    TierCode,
    event_tables,
    idempotency_table,
    timestamp,
    timestamps,
)
from backbone.hub.model import hub_tables

metadata = sa.MetaData(schema="crm")
JsonB = JSONB()


customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("uscc", sa.String(18), nullable=False, unique=True),
    sa.Column("industry", sa.String(60), nullable=False),
    sa.Column("region", sa.String(60), nullable=False),
    sa.Column("account_manager_id", sa.String(60), nullable=False, index=True),
    # the agent (代理商) serving the customer through the agent channel, if any (crm/services/agents.py)
    sa.Column("agent_id", sa.String(60), nullable=True, index=True),
    sa.Column("tier", TierCode, nullable=False),
    sa.Column("key_customer", sa.Boolean, nullable=False, server_default="false"),
    sa.Column("tier_score", sa.Float, nullable=False, server_default="0"),
    # The grading inputs (CustomerFactors less the industry) and the grading itself (TierResult):
    # the API shows why a customer has its tier as it was graded, even after the weights change.
    sa.Column("tier_factors", JsonB, nullable=False, server_default="{}"),
    sa.Column("tier_result", JsonB, nullable=False, server_default="{}"),
    sa.Column("tier_config_version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("created_by", sa.String(60), nullable=False, server_default="system"),
    *timestamps(),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Index("ix_crm_customers_created", "created_at", "id"),
    sa.Index("ix_crm_customers_name", "name", "id"),
)

key_persons = sa.Table(
    "key_persons",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("customer_id", Id, sa.ForeignKey("crm.customers.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("title", sa.String(100), nullable=True),
    sa.Column("phone", sa.String(40), nullable=True),
    sa.Column("email", sa.String(254), nullable=True),
    *timestamps(),
)

opportunities = sa.Table(
    "opportunities",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("customer_id", Id, sa.ForeignKey("crm.customers.id"), nullable=False, index=True),
    sa.Column("account_manager_id", sa.String(60), nullable=False, index=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("products", JsonB, nullable=False, server_default="[]"),
    sa.Column("expected_monthly_revenue", sa.Float, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("status_reason", sa.Text, nullable=True),
    sa.Column("created_by", sa.String(60), nullable=False),
    *timestamps(),
    sa.Index("ix_crm_opportunities_created", "created_at", "id"),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("customer_id", Id, sa.ForeignKey("crm.customers.id"), nullable=False),
    sa.Column("account_manager_id", sa.String(60), nullable=False, index=True),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("status_reason", sa.Text, nullable=True),
    sa.Column("opportunity_id", Id, sa.ForeignKey("crm.opportunities.id"), nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("created_by", sa.String(60), nullable=False),
    # [{from, to, action, by, at, reason}]: the order's own status trail
    sa.Column("history", JsonB, nullable=False, server_default="[]"),
    # [{field, reason}]: what a draft held back from fulfilment lacks (TMF622 pending; crm/domain/information.py),
    # else SQL NULL (none_as_null);
    # information_requested_at: when it was first held back (its TMF622 create event was sent then)
    sa.Column("information_required", JSONB(none_as_null=True), nullable=True),
    timestamp("information_requested_at", nullable=True),
    *timestamps(),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Index("ix_crm_orders_status_created", "status", "created_at"),
    sa.Index("ix_crm_orders_created", "created_at", "id"),
    sa.Index("ix_crm_orders_customer", "customer_id"),
)

order_items = sa.Table(
    "order_items",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("order_id", Id, sa.ForeignKey("crm.orders.id"), nullable=False, index=True),
    sa.Column("position", sa.Integer, nullable=False, server_default="0"),
    sa.Column("product", ProductCode, nullable=False),
    sa.Column("business_kind", sa.String(20), nullable=False),
    sa.Column("attributes", JsonB, nullable=False),
)

complaints = sa.Table(
    "complaints",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("customer_id", Id, sa.ForeignKey("crm.customers.id"), nullable=False, index=True),
    sa.Column("account_manager_id", sa.String(60), nullable=False, index=True),
    sa.Column("category", sa.String(30), nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("product", ProductCode, nullable=True),
    sa.Column("service_ref", sa.String(200), nullable=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("satisfaction", sa.Integer, nullable=True),
    sa.Column("revisit_note", sa.Text, nullable=True),
    sa.Column("created_by", sa.String(60), nullable=False),
    sa.Column("history", JsonB, nullable=False, server_default="[]"),
    *timestamps(),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Index("ix_crm_complaints_created", "created_at", "id"),
)

# TMF622 cancelProductOrder requests: acknowledged (→ information_required) → in_progress → done, or rejected
# with the reason.
order_cancellations = sa.Table(
    "order_cancellations",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("order_id", Id, sa.ForeignKey("crm.orders.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("account_manager_id", sa.String(60), nullable=False, index=True),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),  # the requester's cancellationReason
    sa.Column("state_reason", sa.Text, nullable=True),  # why it was rejected
    timestamp("requested_cancellation_date", nullable=True),
    timestamp("effective_cancellation_date", nullable=True),
    sa.Column("order_status_before", sa.String(20), nullable=False),
    # [{field, reason}] while the request waits for information (state information_required), else null
    sa.Column("information_required", JSONB(none_as_null=True), nullable=True),
    sa.Column("created_by", sa.String(60), nullable=False),
    *timestamps(),
    sa.Index("ix_crm_order_cancellations_created", "created_at", "id"),
)

# The EOMS tickets of orders and complaints as the CRM learnt of them from `eoms.tickets`.
tickets = sa.Table(
    "tickets",
    metadata,
    sa.Column("ticket_id", Id, primary_key=True),
    sa.Column("origin", sa.String(20), nullable=False),
    sa.Column("origin_id", Id, nullable=False),
    sa.Column("ticket_kind", TicketKindCode, nullable=False),
    sa.Column("business_type", BusinessTypeCode, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("node", NodeName, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    timestamp("updated_at"),
    # [{event_id, event, state, node, at, reason?}]; event ids make a redelivery a no-op
    sa.Column("trail", JsonB, nullable=False, server_default="[]"),
    sa.Index("ix_crm_tickets_origin", "origin", "origin_id"),
)

# The latest SLA alert per ticket (from `sla.alerts`), for the account manager's workbench.
sla_alerts = sa.Table(
    "sla_alerts",
    metadata,
    sa.Column("ticket_id", Id, primary_key=True),
    sa.Column("timer_id", sa.String(60), nullable=False),
    sa.Column("level", sa.String(20), nullable=False),  # warning | breached | escalated | met
    sa.Column("escalation_level", sa.Integer, nullable=True),
    sa.Column("node", NodeName, nullable=False),
    sa.Column("role", sa.String(60), nullable=False),
    timestamp("deadline"),
    sa.Column("customer_id", Id, nullable=False),
    sa.Column("account_manager_id", sa.String(60), nullable=False, index=True),
    timestamp("event_time"),
)

outbox, inbox = event_tables(metadata)
# The TMF hub's registrations and per-subscriber delivery queue (backbone.hub, docs/tmf.md).
hub = hub_tables(metadata)
idempotency_keys = idempotency_table(metadata)
