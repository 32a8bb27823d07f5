"""eoms partners and dispatch: the current node's partner and the forwarding partner on tickets, the
assignee / partner / history-actor indexes, round-robin dispatch cursors (issue 13)

Revision ID: b5d2e8f4a1c6
Revises: f3a8c2d1b7e5
Create Date: 2026-12-02 00:30:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'b5d2e8f4a1c6'
down_revision: Union[str, Sequence[str], None] = 'f3a8c2d1b7e5'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OPEN = "state IN ('acknowledged', 'in_progress', 'pending')"


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('tickets', sa.Column('partner', sa.String(length=40), nullable=True), schema='eoms')
    op.add_column('tickets', sa.Column('eoms_partner', sa.String(length=40), nullable=True), schema='eoms')
    op.create_index('ix_eoms_tickets_assignee_open', 'tickets', ['assignee', 'node_entered_at'], schema='eoms',
                    postgresql_where=sa.text(f"{OPEN} AND assignee IS NOT NULL"))
    op.create_index('ix_eoms_tickets_partner', 'tickets', ['partner', 'id'], schema='eoms',
                    postgresql_where=sa.text("partner IS NOT NULL"))
    op.create_index('ix_eoms_ticket_history_actor', 'ticket_history', ['actor', 'ticket_id'], schema='eoms')
    op.create_table(
        'dispatch_cursors',
        sa.Column('role', sa.String(length=60), nullable=False),
        sa.Column('region', sa.String(length=60), nullable=False),
        sa.Column('last_assignee', sa.String(length=60), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('role', 'region', name='pk_eoms_dispatch_cursors'),
        schema='eoms',
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('dispatch_cursors', schema='eoms')
    op.drop_index('ix_eoms_ticket_history_actor', table_name='ticket_history', schema='eoms')
    op.drop_index('ix_eoms_tickets_partner', table_name='tickets', schema='eoms')
    op.drop_index('ix_eoms_tickets_assignee_open', table_name='tickets', schema='eoms')
    op.drop_column('tickets', 'eoms_partner', schema='eoms')
    op.drop_column('tickets', 'partner', schema='eoms')
