"""eoms customer region: the customer's region on tickets (from crm.order.submitted / crm.complaint.created)

Revision ID: f3a8c2d1b7e5
Revises: e1c4b7a9d2f3
Create Date: 2026-12-01 22:45:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'f3a8c2d1b7e5'
down_revision: Union[str, Sequence[str], None] = 'e1c4b7a9d2f3'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('tickets', sa.Column('customer_region', sa.String(length=60), nullable=True), schema='eoms')


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column('tickets', 'customer_region', schema='eoms')
