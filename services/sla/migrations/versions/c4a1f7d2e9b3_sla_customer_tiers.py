"""sla customer tiers: the CRM's re-gradings (crm.customer.tier_changed)

Revision ID: c4a1f7d2e9b3
Revises: b06070f25ca3
Create Date: 2026-12-01 21:30:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = 'c4a1f7d2e9b3'
down_revision: Union[str, Sequence[str], None] = 'b06070f25ca3'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('customer_tiers',
    sa.Column('customer_id', sa.String(length=40), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('new_tier', sa.String(length=1), nullable=False),
    sa.Column('old_tier', sa.String(length=1), nullable=True),
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', 'changed_at'),
    schema='sla'
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('customer_tiers', schema='sla')
