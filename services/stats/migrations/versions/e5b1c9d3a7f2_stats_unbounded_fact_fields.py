"""stats: the facts keep event fields unbounded (a long id or role made an event unstorable)

Revision ID: e5b1c9d3a7f2
Revises: d430403440f3
Create Date: 2026-12-02 02:10:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "e5b1c9d3a7f2"
down_revision: Union[str, Sequence[str], None] = "d430403440f3"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # varchar(n) -> text: PostgreSQL changes only the catalog (no table rewrite).
    op.alter_column("order_items", "order_id", type_=sa.Text(), existing_type=sa.String(40), schema="stats")
    op.alter_column("order_items", "item_id", type_=sa.Text(), existing_type=sa.String(40), schema="stats")
    op.alter_column("order_items", "product", type_=sa.Text(), existing_type=sa.String(40), schema="stats")
    op.alter_column("order_items", "business_type", type_=sa.Text(), existing_type=sa.String(80), schema="stats")
    op.alter_column("order_items", "channel", type_=sa.Text(), existing_type=sa.String(20), schema="stats")
    op.alter_column("order_items", "region", type_=sa.Text(), existing_type=sa.String(60), schema="stats")
    op.alter_column("order_items", "customer_id", type_=sa.Text(), existing_type=sa.String(40), schema="stats")
    op.alter_column("order_items", "account_manager_id", type_=sa.Text(), existing_type=sa.String(60), schema="stats")
    op.alter_column("complaints", "complaint_id", type_=sa.Text(), existing_type=sa.String(40), schema="stats")
    op.alter_column("complaints", "product", type_=sa.Text(), existing_type=sa.String(40), schema="stats")
    op.alter_column("complaints", "category", type_=sa.Text(), existing_type=sa.String(60), schema="stats")
    op.alter_column("complaints", "region", type_=sa.Text(), existing_type=sa.String(60), schema="stats")
    op.alter_column("complaints", "customer_id", type_=sa.Text(), existing_type=sa.String(40), schema="stats")
    op.alter_column("complaints", "account_manager_id", type_=sa.Text(), existing_type=sa.String(60), schema="stats")
    op.alter_column("revisits", "complaint_id", type_=sa.Text(), existing_type=sa.String(40), schema="stats")
    op.alter_column("opportunities", "opportunity_id", type_=sa.Text(), existing_type=sa.String(40), schema="stats")
    op.alter_column("opportunities", "channel", type_=sa.Text(), existing_type=sa.String(20), schema="stats")
    op.alter_column("opportunities", "customer_id", type_=sa.Text(), existing_type=sa.String(40), schema="stats")
    op.alter_column("opportunities", "account_manager_id", type_=sa.Text(), existing_type=sa.String(60), schema="stats")
    op.alter_column("opportunity_changes", "opportunity_id", type_=sa.Text(), existing_type=sa.String(40), schema="stats")
    op.alter_column("opportunity_changes", "to_status", type_=sa.Text(), existing_type=sa.String(20), schema="stats")
    op.alter_column("node_events", "ticket_id", type_=sa.Text(), existing_type=sa.String(40), schema="stats")
    op.alter_column("node_events", "node", type_=sa.Text(), existing_type=sa.String(80), schema="stats")
    op.alter_column("node_events", "role", type_=sa.Text(), existing_type=sa.String(40), schema="stats")
    op.alter_column("node_events", "assignee", type_=sa.Text(), existing_type=sa.String(60), schema="stats")
    op.alter_column("node_events", "business_type", type_=sa.Text(), existing_type=sa.String(80), schema="stats")
    op.alter_column("node_events", "region", type_=sa.Text(), existing_type=sa.String(60), schema="stats")
    op.alter_column("sla_alerts", "timer_id", type_=sa.Text(), existing_type=sa.String(40), schema="stats")
    op.alter_column("sla_alerts", "ticket_id", type_=sa.Text(), existing_type=sa.String(40), schema="stats")
    op.alter_column("sla_alerts", "node", type_=sa.Text(), existing_type=sa.String(80), schema="stats")
    op.alter_column("sla_alerts", "role", type_=sa.Text(), existing_type=sa.String(40), schema="stats")
    op.alter_column("sla_alerts", "assignee", type_=sa.Text(), existing_type=sa.String(60), schema="stats")


def downgrade() -> None:
    op.alter_column("order_items", "order_id", type_=sa.String(40), existing_type=sa.Text(), schema="stats")
    op.alter_column("order_items", "item_id", type_=sa.String(40), existing_type=sa.Text(), schema="stats")
    op.alter_column("order_items", "product", type_=sa.String(40), existing_type=sa.Text(), schema="stats")
    op.alter_column("order_items", "business_type", type_=sa.String(80), existing_type=sa.Text(), schema="stats")
    op.alter_column("order_items", "channel", type_=sa.String(20), existing_type=sa.Text(), schema="stats")
    op.alter_column("order_items", "region", type_=sa.String(60), existing_type=sa.Text(), schema="stats")
    op.alter_column("order_items", "customer_id", type_=sa.String(40), existing_type=sa.Text(), schema="stats")
    op.alter_column("order_items", "account_manager_id", type_=sa.String(60), existing_type=sa.Text(), schema="stats")
    op.alter_column("complaints", "complaint_id", type_=sa.String(40), existing_type=sa.Text(), schema="stats")
    op.alter_column("complaints", "product", type_=sa.String(40), existing_type=sa.Text(), schema="stats")
    op.alter_column("complaints", "category", type_=sa.String(60), existing_type=sa.Text(), schema="stats")
    op.alter_column("complaints", "region", type_=sa.String(60), existing_type=sa.Text(), schema="stats")
    op.alter_column("complaints", "customer_id", type_=sa.String(40), existing_type=sa.Text(), schema="stats")
    op.alter_column("complaints", "account_manager_id", type_=sa.String(60), existing_type=sa.Text(), schema="stats")
    op.alter_column("revisits", "complaint_id", type_=sa.String(40), existing_type=sa.Text(), schema="stats")
    op.alter_column("opportunities", "opportunity_id", type_=sa.String(40), existing_type=sa.Text(), schema="stats")
    op.alter_column("opportunities", "channel", type_=sa.String(20), existing_type=sa.Text(), schema="stats")
    op.alter_column("opportunities", "customer_id", type_=sa.String(40), existing_type=sa.Text(), schema="stats")
    op.alter_column("opportunities", "account_manager_id", type_=sa.String(60), existing_type=sa.Text(), schema="stats")
    op.alter_column("opportunity_changes", "opportunity_id", type_=sa.String(40), existing_type=sa.Text(), schema="stats")
    op.alter_column("opportunity_changes", "to_status", type_=sa.String(20), existing_type=sa.Text(), schema="stats")
    op.alter_column("node_events", "ticket_id", type_=sa.String(40), existing_type=sa.Text(), schema="stats")
    op.alter_column("node_events", "node", type_=sa.String(80), existing_type=sa.Text(), schema="stats")
    op.alter_column("node_events", "role", type_=sa.String(40), existing_type=sa.Text(), schema="stats")
    op.alter_column("node_events", "assignee", type_=sa.String(60), existing_type=sa.Text(), schema="stats")
    op.alter_column("node_events", "business_type", type_=sa.String(80), existing_type=sa.Text(), schema="stats")
    op.alter_column("node_events", "region", type_=sa.String(60), existing_type=sa.Text(), schema="stats")
    op.alter_column("sla_alerts", "timer_id", type_=sa.String(40), existing_type=sa.Text(), schema="stats")
    op.alter_column("sla_alerts", "ticket_id", type_=sa.String(40), existing_type=sa.Text(), schema="stats")
    op.alter_column("sla_alerts", "node", type_=sa.String(80), existing_type=sa.Text(), schema="stats")
    op.alter_column("sla_alerts", "role", type_=sa.String(40), existing_type=sa.Text(), schema="stats")
    op.alter_column("sla_alerts", "assignee", type_=sa.String(60), existing_type=sa.Text(), schema="stats")
