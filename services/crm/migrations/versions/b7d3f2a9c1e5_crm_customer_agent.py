"""crm customer agent (issue 13: the agent serving a customer through the agent channel)

Revision ID: b7d3f2a9c1e5
Revises: a6c2e1f4b9d7
Create Date: 2026-12-02 01:40:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7d3f2a9c1e5"
down_revision: str | Sequence[str] | None = "a6c2e1f4b9d7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("agent_id", sa.String(length=60), nullable=True), schema="crm")
    op.create_index(op.f("ix_crm_customers_agent_id"), "customers", ["agent_id"], unique=False, schema="crm")


def downgrade() -> None:
    op.drop_index(op.f("ix_crm_customers_agent_id"), table_name="customers", schema="crm")
    op.drop_column("customers", "agent_id", schema="crm")
