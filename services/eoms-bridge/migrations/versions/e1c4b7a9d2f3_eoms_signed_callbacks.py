"""eoms signed callbacks: the partner and reported actor of a callback, the replay store of signatures

Revision ID: e1c4b7a9d2f3
Revises: 5e4e6c807179
Create Date: 2026-12-01 22:30:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'e1c4b7a9d2f3'
down_revision: Union[str, Sequence[str], None] = '5e4e6c807179'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('eoms_callbacks', sa.Column('partner', sa.String(length=40), nullable=True), schema='eoms')
    op.add_column('eoms_callbacks', sa.Column('reported_actor', sa.String(length=60), nullable=True), schema='eoms')
    op.create_table('eoms_callback_signatures',
    sa.Column('signature', sa.String(length=64), nullable=False),
    sa.Column('partner', sa.String(length=40), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('signature'),
    schema='eoms'
    )
    op.create_index('ix_eoms_callback_signatures_seen_at', 'eoms_callback_signatures', ['seen_at'], unique=False,
                    schema='eoms')


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_eoms_callback_signatures_seen_at', table_name='eoms_callback_signatures', schema='eoms')
    op.drop_table('eoms_callback_signatures', schema='eoms')
    op.drop_column('eoms_callbacks', 'reported_actor', schema='eoms')
    op.drop_column('eoms_callbacks', 'partner', schema='eoms')
