"""sla alerts: fewer indexes to maintain per row (every start and stop writes one: its feed record, `sla.met`)

`ix_sla_alerts_ticket` is read by nothing in the service (the SLA reads alerts by timer, `ux_sla_alerts_once`,
and by commit order, `ix_sla_alerts_feed`; only the drills' checks and bench.console_board filter by ticket, on
tables of their own size); `ix_sla_alerts_fired` is read only by the breaches-per-day report, which asks for the
breaches and escalations alone: it indexes only those now. The rebuild holds the table's lock in the migration's
transaction: the SLA's writers wait for it (docs/operations.md, "Migrations that hold a table's lock").

Revision ID: e5b8c2d4f6a1
Revises: d7e3a9c1f2b4
Create Date: 2026-12-02 16:25:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = 'e5b8c2d4f6a1'
down_revision: Union[str, Sequence[str], None] = 'd7e3a9c1f2b4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BREACHES = sa.text("event_type IN ('sla.breached', 'sla.escalated')")


def upgrade() -> None:
    """Upgrade schema."""
    op.drop_index('ix_sla_alerts_ticket', table_name='alerts', schema='sla')
    op.drop_index('ix_sla_alerts_fired', table_name='alerts', schema='sla')
    op.create_index('ix_sla_alerts_fired', 'alerts', ['fired_at'], unique=False, schema='sla',
                    postgresql_where=BREACHES)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_sla_alerts_fired', table_name='alerts', schema='sla', postgresql_where=BREACHES)
    op.create_index('ix_sla_alerts_fired', 'alerts', ['fired_at'], unique=False, schema='sla')
    op.create_index('ix_sla_alerts_ticket', 'alerts', ['ticket_id'], unique=False, schema='sla')
