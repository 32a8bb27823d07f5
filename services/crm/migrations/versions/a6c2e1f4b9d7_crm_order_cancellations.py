"""crm order cancellations (TMF622 cancelProductOrder)

Revision ID: a6c2e1f4b9d7
Revises: cfd0193f8003
Create Date: 2026-12-02 00:15:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a6c2e1f4b9d7"
down_revision: str | Sequence[str] | None = "cfd0193f8003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_cancellations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("account_manager_id", sa.String(length=60), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("requested_cancellation_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("effective_cancellation_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("order_status_before", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["crm.orders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        schema="crm",
    )
    op.create_index("ix_crm_order_cancellations_created", "order_cancellations", ["created_at", "id"],
                    unique=False, schema="crm")
    op.create_index(op.f("ix_crm_order_cancellations_order_id"), "order_cancellations", ["order_id"],
                    unique=False, schema="crm")
    op.create_index(op.f("ix_crm_order_cancellations_account_manager_id"), "order_cancellations",
                    ["account_manager_id"], unique=False, schema="crm")


def downgrade() -> None:
    op.drop_index(op.f("ix_crm_order_cancellations_account_manager_id"), table_name="order_cancellations",
                  schema="crm")
    op.drop_index(op.f("ix_crm_order_cancellations_order_id"), table_name="order_cancellations", schema="crm")
    op.drop_index("ix_crm_order_cancellations_created", table_name="order_cancellations", schema="crm")
    op.drop_table("order_cancellations")
