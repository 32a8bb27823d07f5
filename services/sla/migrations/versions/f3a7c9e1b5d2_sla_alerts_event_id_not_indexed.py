"""sla alerts: event_id no longer unique (indexed), one index entry fewer for every start and stop

Every start (its `sla.timer_started` feed record) and every stop (`sla.met`) writes one alert row; its `event_id`
is random (uuid4 / gen_random_uuid), so its unique index took an insert at a random place of a growing b-tree per
row: ~5 us of PostgreSQL's CPU per row (a copy of the table with and without it, 20,000 rows of 500). Nothing
reads an alert by its event id: the feed pages by `(xid, id)`, an alert is found by `(timer_id, action)` (the
arbiter of a second firing, `ux_sla_alerts_once`), and a published alert's id is unique in the outbox, written in
the same transaction. Dropping an index takes the table's lock briefly (no rebuild).

Revision ID: f3a7c9e1b5d2
Revises: e5b8c2d4f6a1
Create Date: 2026-12-02 19:50:00.000000

"""
from typing import Sequence, Union

from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'f3a7c9e1b5d2'
down_revision: Union[str, Sequence[str], None] = 'e5b8c2d4f6a1'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.drop_constraint('alerts_event_id_key', 'alerts', schema='sla', type_='unique')


def downgrade() -> None:
    """Downgrade schema."""
    op.create_unique_constraint('alerts_event_id_key', 'alerts', ['event_id'], schema='sla')
