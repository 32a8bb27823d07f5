"""EOMS bridge tables, in the `eoms` schema."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from backbone.db import (
    BusinessTypeCode,
    Id,
    NodeName,
    TicketKindCode,
    TierCode,
    event_tables,
    timestamp,
    timestamps,
)
from backbone.hub.model import hub_tables

metadata = sa.MetaData(schema="eoms")

#: The origin of a ticket a network system opened over TMF621 (`services.network_tickets`).
NETWORK_ORIGIN = "network"
#: System actors that write history rows on every ticket they open or dispatch (the CRM's orders, the automatic
#: dispatch: `services.tickets.CRM`, `services.assignment.DISPATCH`). The "tickets I took part in" index leaves their
#: rows out (issue 16: two index entries fewer per order); a person's lookup adds `PEOPLES_HISTORY` to its query so
#: that the partial index applies (`api.assignments.my_tickets`).
AUTOMATIC_ACTORS = ("crm", "dispatch")
PEOPLES_HISTORY = "actor NOT IN (" + ", ".join(f"'{a}'" for a in AUTOMATIC_ACTORS) + ")"

# Every loaded workflow version, shared by all instances (the YAML catalog is synced in at start;
# the admin API adds versions). A row is immutable: a change is a new version.
workflow_definitions = sa.Table(
    "workflow_definitions",
    metadata,
    sa.Column("id", sa.String(120), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("business_type", BusinessTypeCode, nullable=False),
    sa.Column("definition", JSONB, nullable=False),
    sa.Column("source", sa.String(40), nullable=False),  # "catalog" (YAML shipped with the code) or "admin:<user>"
    timestamp("created_at", default_now=True),
    sa.PrimaryKeyConstraint("id", "version", name="pk_eoms_workflow_definitions"),
    sa.Index("ix_eoms_workflow_definitions_type", "business_type", "version"),
)

# One row per ticket: indexed columns for queries, `snapshot` to rehydrate the domain Ticket,
# `version` for optimistic locking (every write checks and bumps it).
tickets = sa.Table(
    "tickets",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("kind", TicketKindCode, nullable=False),
    sa.Column("business_type", BusinessTypeCode, nullable=False),
    sa.Column("origin", sa.String(20), nullable=False),
    sa.Column("origin_id", Id, nullable=False),
    # Order item id, or the complaint id again for complaints (NOT NULL so the unique key holds).
    sa.Column("origin_item_id", Id, nullable=False),
    sa.Column("customer_id", Id, nullable=False),
    sa.Column("customer_name", sa.String(200), nullable=False),
    sa.Column("customer_tier", TierCode, nullable=False),
    sa.Column("account_manager_id", sa.String(60), nullable=False),
    sa.Column("customer_region", sa.String(60), nullable=True),  # from the CRM's events (older ones lack it)
    sa.Column("workflow_id", sa.String(120), nullable=False),
    sa.Column("workflow_version", sa.Integer, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("current_node", NodeName, nullable=True),
    sa.Column("current_role", sa.String(60), nullable=True),
    sa.Column("assignee", sa.String(60), nullable=True),
    timestamp("node_entered_at", nullable=True),
    sa.Column("severity", sa.String(20), nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("data", JSONB, nullable=False, server_default="{}"),  # order item attributes / complaint facts
    sa.Column("snapshot", JSONB, nullable=False),
    sa.Column("external_ref", sa.String(120), nullable=True),  # id in the external EOMS (adapter mode)
    # The partner SI company whose node is current (organisation data, recorded when the node is entered):
    # its engineers see and work the ticket while that node is current. Null for nodes of our own staff.
    sa.Column("partner", sa.String(40), nullable=True),
    # The callback partner (external EOMS) the ticket was forwarded to (adapter mode): only its signed
    # callbacks act on the ticket (another partner's answer 404).
    sa.Column("eoms_partner", sa.String(40), nullable=True),
    *timestamps(),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    # One event, one set of tickets: redeliveries and competing consumer groups hit this key.
    sa.UniqueConstraint("origin_id", "origin_item_id", "kind", name="uq_eoms_tickets_origin_kind"),
    # A reporter's network tickets (TMF621 `GET /troubleTicket` of an integrating system: `api.tmf`, newest first).
    # Only network tickets are listed by origin: an order's or a complaint's are found by their origin id, the unique
    # key's first column, so the order path writes no entry here (issue 16; it was (origin, origin_id) on every ticket).
    sa.Index("ix_eoms_tickets_network", "origin_item_id", "id",
             postgresql_where=sa.text(f"origin = '{NETWORK_ORIGIN}'")),
    sa.Index("ix_eoms_tickets_external_ref", "external_ref", postgresql_where=sa.text("external_ref IS NOT NULL")),
    # Work queues: open tasks of a role, oldest first.
    sa.Index(
        "ix_eoms_tickets_queue", "current_role", "node_entered_at", "id",
        postgresql_where=sa.text("state IN ('acknowledged', 'in_progress', 'pending')"),
    ),
    # "Tasks assigned to me" and the least-loaded dispatch's open-task counts.
    sa.Index(
        "ix_eoms_tickets_assignee_open", "assignee", "node_entered_at",
        postgresql_where=sa.text("state IN ('acknowledged', 'in_progress', 'pending') AND assignee IS NOT NULL"),
    ),
    sa.Index("ix_eoms_tickets_partner", "partner", "id", postgresql_where=sa.text("partner IS NOT NULL")),
)

# Audit trail: one row per domain event (who, when, node, outcome, state change).
ticket_history = sa.Table(
    "ticket_history",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", Id, nullable=False, index=True),
    sa.Column("event_type", sa.String(60), nullable=False),
    sa.Column("node", NodeName, nullable=True),
    sa.Column("role", sa.String(60), nullable=True),
    sa.Column("outcome", sa.String(80), nullable=True),
    sa.Column("from_state", sa.String(20), nullable=True),
    sa.Column("to_state", sa.String(20), nullable=True),
    sa.Column("actor", sa.String(60), nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    timestamp("at"),
    # "Tickets I took part in" (`api.assignments`): a person's rows only; the query names the same predicate.
    sa.Index("ix_eoms_ticket_history_actor", "actor", "ticket_id", postgresql_where=sa.text(PEOPLES_HISTORY)),
)

# Round-robin dispatch: who was dispatched last per (node role, region); the row is locked while a
# dispatch picks the next person, so concurrent dispatches take turns.
dispatch_cursors = sa.Table(
    "dispatch_cursors",
    metadata,
    sa.Column("role", sa.String(60), nullable=False),
    sa.Column("region", sa.String(60), nullable=False),  # the ticket's region ("" when it has none)
    sa.Column("last_assignee", sa.String(60), nullable=True),
    timestamp("updated_at", default_now=True),
    sa.PrimaryKeyConstraint("role", "region", name="pk_eoms_dispatch_cursors"),
)

# Durable queue of messages for the external EOMS (adapter mode), written in the transaction of the
# change; the forwarder delivers them in `seq` order with retries, so a crash never loses a forward.
forward_queue = sa.Table(
    "forward_queue",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", Id, nullable=False),
    sa.Column("message_type", sa.String(40), nullable=False),
    sa.Column("payload", JSONB, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    timestamp("next_attempt_at", default_now=True),
    sa.Column("last_error", sa.Text, nullable=True),
    timestamp("created_at", default_now=True),
    timestamp("sent_at", nullable=True),
    sa.Index("ix_eoms_forward_queue_due", "next_attempt_at", "seq", postgresql_where=sa.text("sent_at IS NULL")),
)

# Callbacks of the external EOMS already applied (its callback id is the idempotency key): which partner
# sent it (the actor is derived from it) and the operator the body named (informational only).
eoms_callbacks = sa.Table(
    "eoms_callbacks",
    metadata,
    sa.Column("callback_id", sa.String(120), primary_key=True),
    sa.Column("ticket_id", Id, nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    timestamp("received_at", default_now=True),
    sa.Column("partner", sa.String(40), nullable=True),
    sa.Column("reported_actor", sa.String(60), nullable=True),
)

# Signatures of accepted callbacks, remembered for twice the replay window (a replay is refused: 401).
eoms_callback_signatures = sa.Table(
    "eoms_callback_signatures",
    metadata,
    sa.Column("signature", sa.String(64), primary_key=True),
    sa.Column("partner", sa.String(40), nullable=False),
    timestamp("seen_at", default_now=True),
    sa.Index("ix_eoms_callback_signatures_seen_at", "seen_at"),
)

outbox, inbox = event_tables(metadata)
# The TMF621 hub's registrations and per-subscriber delivery queue (backbone.hub, docs/tmf.md).
hub = hub_tables(metadata)
