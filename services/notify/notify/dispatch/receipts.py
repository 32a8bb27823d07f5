"""SMSC delivery receipts (DLRs): a part's stat, then the delivery's `delivered` or `failed`.

The SMPP client calls `Receipts.on_dlr` for every receipt. The part is found by its SMSC message
id; when every part of the message is `DELIVRD` the delivery becomes `delivered`, when any part
ends `UNDELIV/REJECTD/EXPIRED/DELETED/UNKNOWN` it becomes `failed` (+ the DLQ copy). Each emits
its `notify.delivery.recorded` event in the same transaction.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notify.models import deliveries, sms_parts
from notify.services.deliveries import record
from notify.smpp.client import DeliveryReport

log = logging.getLogger("notify.dispatch.receipts")

FAILED_STATS = frozenset({"UNDELIV", "REJECTD", "EXPIRED", "DELETED", "UNKNOWN"})


class Receipts:
    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], *, attempts: int = 20, retry_s: float = 0.25
    ) -> None:
        self.session_factory = session_factory
        self.attempts = attempts
        self.retry_s = retry_s

    async def on_dlr(self, report: DeliveryReport) -> None:
        for _ in range(self.attempts):  # the receipt may overtake our commit of the part id
            if await self.apply(report):
                return
            await asyncio.sleep(self.retry_s)
        log.warning("DLR for unknown message id %s (%s)", report.message_id, report.stat)

    async def apply(self, report: DeliveryReport) -> bool:
        """Record one receipt; False when its part is not known (yet)."""
        p, d = sms_parts, deliveries
        async with self.session_factory() as session, session.begin():
            part = (
                await session.execute(
                    select(p.c.delivery_id).where(p.c.message_id == report.message_id)
                    .order_by(p.c.submitted_at.desc()).limit(1)
                )
            ).first()
            if part is None:
                return False
            delivery_id = part.delivery_id
            row = (await session.execute(select(d).where(d.c.id == delivery_id).with_for_update())).first()
            if row is None:
                return True
            await session.execute(
                update(p).where(p.c.delivery_id == delivery_id, p.c.message_id == report.message_id)
                .values(dlr_stat=report.stat, dlr_err=report.err, dlr_at=func.now())
            )
            stats = [r[0] for r in await session.execute(select(p.c.dlr_stat).where(p.c.delivery_id == delivery_id))]
            current = dict(row._mapping)
            if current["status"] not in ("sending", "sent"):
                return True
            total = int(current["meta"].get("parts", 1))
            if report.stat in FAILED_STATS:
                reason = f"DLR {report.stat} err {report.err} for part {report.message_id}"
                await session.execute(update(d).where(d.c.id == delivery_id)
                                      .values(status="failed", reason=reason, updated_at=func.now()))
                await record(session, current, "failed", reason, dead_letter=True)
            elif len(stats) >= total and all(s == "DELIVRD" for s in stats):
                await session.execute(update(d).where(d.c.id == delivery_id)
                                      .values(status="delivered", updated_at=func.now()))
                await record(session, current, "delivered", f"DLR DELIVRD ({total} part(s))")
        return True
