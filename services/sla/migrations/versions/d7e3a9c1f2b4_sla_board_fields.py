"""sla board fields: the customer's region on timers, the open-timers index of the at-risk list, alerts by time

Revision ID: d7e3a9c1f2b4
Revises: c4a1f7d2e9b3
Create Date: 2026-12-01 22:10:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = 'd7e3a9c1f2b4'
down_revision: Union[str, Sequence[str], None] = 'c4a1f7d2e9b3'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('timers', sa.Column('customer_region', sa.String(length=60), nullable=True), schema='sla')
    op.drop_index('ix_sla_timers_at_risk', table_name='timers', schema='sla',
                  postgresql_where=sa.text("state IN ('running', 'warned')"))
    op.create_index('ix_sla_timers_open_deadline', 'timers', ['deadline', 'id'], unique=False, schema='sla',
                    postgresql_where=sa.text('completed_at IS NULL AND cancelled_at IS NULL'))
    op.create_index('ix_sla_alerts_fired', 'alerts', ['fired_at'], unique=False, schema='sla')


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_sla_alerts_fired', table_name='alerts', schema='sla')
    op.drop_index('ix_sla_timers_open_deadline', table_name='timers', schema='sla',
                  postgresql_where=sa.text('completed_at IS NULL AND cancelled_at IS NULL'))
    op.create_index('ix_sla_timers_at_risk', 'timers', ['deadline', 'id'], unique=False, schema='sla',
                    postgresql_where=sa.text("state IN ('running', 'warned')"))
    op.drop_column('timers', 'customer_region', schema='sla')
