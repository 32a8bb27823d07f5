"""Customer tiers as the CRM re-grades them (`crm.customer.tier_changed` on `crm.customers`).

One row per change (customer, changed_at): a redelivered or replayed event changes nothing (the
inbox first, the primary key after). `effective_tiers` tells `start_timers` which tier each entered
node runs under (`sla.domain.tiers.tier_at`); timers already running are never touched.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.events import CustomerTierChanged
from sla.domain.tiers import tier_at
from sla.models import customer_tiers

log = logging.getLogger("sla.tiers")

_RECORD = insert(customer_tiers).on_conflict_do_nothing().returning(customer_tiers.c.customer_id)


async def record_change(session: AsyncSession, change: CustomerTierChanged, *, event_id: uuid.UUID) -> bool:
    """Record a re-grading; False when it was already recorded (a replay under a new envelope id)."""
    new = (await session.execute(_RECORD, {
        "customer_id": change.customer_id, "changed_at": change.changed_at, "new_tier": change.new_tier.value,
        "old_tier": change.old_tier.value if change.old_tier else None, "event_id": event_id,
    })).first() is not None
    if new:
        log.info("customer %s re-graded %s → %s at %s: new timers use it", change.customer_id,
                 change.old_tier.value if change.old_tier else "-", change.new_tier.value,
                 change.changed_at.isoformat())
    return new


async def effective_tiers(session: AsyncSession, entries: Sequence[tuple[str, datetime, str]]) -> list[str]:
    """Per (customer_id, entered_at, ticket's tier): the tier the node's timer runs under."""
    ids = sorted({customer for customer, _, _ in entries})
    changes: dict[str, list[tuple[datetime, str]]] = {}
    if ids:
        rows = (await session.execute(
            select(customer_tiers.c.customer_id, customer_tiers.c.changed_at, customer_tiers.c.new_tier)
            .where(customer_tiers.c.customer_id.in_(ids))
            .order_by(customer_tiers.c.customer_id, customer_tiers.c.changed_at)
        )).all()
        for r in rows:
            changes.setdefault(r.customer_id, []).append((r.changed_at, r.new_tier))
    return [tier_at(changes.get(customer, []), at, ticket_tier) for customer, at, ticket_tier in entries]


__all__ = ["effective_tiers", "record_change"]
