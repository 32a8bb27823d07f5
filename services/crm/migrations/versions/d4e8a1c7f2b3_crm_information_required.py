"""crm information required (TMF622 pending orders, cancellation requests waiting for information)

Revision ID: d4e8a1c7f2b3
Revises: b7d3f2a9c1e5
Create Date: 2026-12-02 03:30:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "d4e8a1c7f2b3"
down_revision: str | Sequence[str] | None = "b7d3f2a9c1e5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("information_required", postgresql.JSONB(astext_type=sa.Text()),
                                      nullable=True), schema="crm")
    op.add_column("orders", sa.Column("information_requested_at", sa.DateTime(timezone=True), nullable=True),
                  schema="crm")
    op.add_column("order_cancellations", sa.Column("information_required", postgresql.JSONB(astext_type=sa.Text()),
                                                   nullable=True), schema="crm")


def downgrade() -> None:
    op.drop_column("order_cancellations", "information_required", schema="crm")
    op.drop_column("orders", "information_requested_at", schema="crm")
    op.drop_column("orders", "information_required", schema="crm")
