"""eoms fewer index entries per ticket: the origin index on network tickets only, the history's actor index on people

Every order writes a ticket and two history rows (its opening and its first node, both by the system actor `crm`).
`ix_eoms_tickets_origin` (origin, origin_id) took an entry per ticket, yet only network tickets are looked up by
origin (a reporter's TMF621 list: `ix_eoms_tickets_network` (origin_item_id, id) WHERE origin = 'network'); an order's
or a complaint's tickets are found by origin id, the unique key's first column. `ix_eoms_ticket_history_actor` took
an entry per history row, yet only a person's rows are looked up by actor ("tickets I took part in"): it is now
partial on `actor NOT IN ('crm', 'dispatch')`, and that lookup names the same predicate (issue 16: three index entries
fewer per order).

Both indexes are built in the migration's transaction: on a large `eoms.tickets` / `eoms.ticket_history` the bridge's
writers wait for the builds (docs/operations.md, "Migrations that hold a table's lock"); run it at a quiet hour.

Revision ID: d9b3e6a2c8f4
Revises: c7e2b4a9d1f6
Create Date: 2026-12-03 00:30:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'd9b3e6a2c8f4'
down_revision: Union[str, Sequence[str], None] = 'c7e2b4a9d1f6'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.drop_index('ix_eoms_tickets_origin', table_name='tickets', schema='eoms')
    op.create_index('ix_eoms_tickets_network', 'tickets', ['origin_item_id', 'id'], unique=False, schema='eoms',
                    postgresql_where=sa.text("origin = 'network'"))
    op.drop_index('ix_eoms_ticket_history_actor', table_name='ticket_history', schema='eoms')
    op.create_index('ix_eoms_ticket_history_actor', 'ticket_history', ['actor', 'ticket_id'], unique=False,
                    schema='eoms', postgresql_where=sa.text("actor NOT IN ('crm', 'dispatch')"))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_eoms_ticket_history_actor', table_name='ticket_history', schema='eoms')
    op.create_index('ix_eoms_ticket_history_actor', 'ticket_history', ['actor', 'ticket_id'], unique=False,
                    schema='eoms')
    op.drop_index('ix_eoms_tickets_network', table_name='tickets', schema='eoms')
    op.create_index('ix_eoms_tickets_origin', 'tickets', ['origin', 'origin_id'], unique=False, schema='eoms')
