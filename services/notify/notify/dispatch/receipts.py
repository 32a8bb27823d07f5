"""SMSC delivery receipts (DLRs): a part's stat, then the delivery's `delivered` or `failed`.

The SMPP client calls `Receipts.on_dlr` for every receipt. The part is found by its SMSC message
id; when every part of the message is `DELIVRD` the delivery becomes `delivered`, when any part
ends `UNDELIV/REJECTD/EXPIRED/DELETED/UNKNOWN` it becomes `failed` (+ the DLQ copy). Each emits
its `notify.delivery.recorded` event in the same transaction.

Group commit: the receipts that arrive while one receipt transaction is in flight are stored
together in the next one (a few set-based statements for all of them, one durable commit);
`on_dlr` returns once its receipt is committed (the client acknowledges it to the SMSC only then)
and raises when it could not be stored (the client refuses it, the SMSC delivers it again); a group
that fails is stored again receipt by receipt, so one receipt that cannot be stored refuses only itself.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, distinct_on
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone.envelope import Envelope
from backbone.outbox import emit_envelopes
from notify.dispatch.group_commit import GroupCommit
from notify.models import deliveries, sms_parts
from notify.services.deliveries import DLQ_TOPIC, delivery_envelope
from notify.smpp.client import DeliveryReport

log = logging.getLogger("notify.dispatch.receipts")

FAILED_STATS = frozenset({"UNDELIV", "REJECTD", "EXPIRED", "DELETED", "UNKNOWN"})
GROUP_MAX = 500  # receipts per transaction

_p, _d = sms_parts, deliveries
_IDS = ARRAY(String)
# The newest part with each message id (a resend may reuse none, but an SMSC may recycle ids).
_PARTS = (
    select(_p.c.message_id, _p.c.delivery_id)
    .where(_p.c.message_id == func.any(bindparam("message_ids", type_=_IDS)))
    .order_by(_p.c.message_id, _p.c.submitted_at.desc())
    .ext(distinct_on(_p.c.message_id))
)
# What a receipt needs of its delivery (its state and what its event says), not the message it carried.
_LOCK_DELIVERIES = (
    select(_d.c.id, _d.c.status, _d.c.meta, _d.c.source_event_id, _d.c.source_event_type, _d.c.recipient_id,
           _d.c.channel, _d.c.ticket_id)
    .where(_d.c.id == func.any(bindparam("delivery_ids", type_=_IDS))).order_by(_d.c.id).with_for_update()
)
_STORE_STATS = text(f"""
    UPDATE {_p.fullname} AS p SET dlr_stat = v.stat, dlr_err = v.err, dlr_at = now()
      FROM unnest(:delivery_ids, :message_ids, :stats, :errs) AS v(delivery_id, message_id, stat, err)
     WHERE p.delivery_id = v.delivery_id AND p.message_id = v.message_id
""").bindparams(*(bindparam(n, type_=_IDS) for n in ("delivery_ids", "message_ids", "stats", "errs")))
_STATS_OF = select(_p.c.delivery_id, _p.c.dlr_stat).where(
    _p.c.delivery_id == func.any(bindparam("delivery_ids", type_=_IDS))
)
_SET_STATUS = (
    update(_d).where(_d.c.id == func.any(bindparam("set_ids", type_=_IDS)))
    .values(status=bindparam("set_status"), updated_at=func.now())
)
_SET_FAILED = (
    update(_d).where(_d.c.id == bindparam("failed_id"))
    .values(status="failed", reason=bindparam("failed_reason"), updated_at=func.now())
)


class Receipts:
    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], *, attempts: int = 20, retry_s: float = 0.25
    ) -> None:
        self.session_factory = session_factory
        self.attempts = attempts
        self.retry_s = retry_s
        self._group: GroupCommit[DeliveryReport, bool] = GroupCommit(
            self._commit_group, max_group=GROUP_MAX, name="notify-receipt-commits")

    async def on_dlr(self, report: DeliveryReport) -> None:
        for _ in range(self.attempts):  # the receipt may overtake our commit of the part id
            if await self.apply(report):
                return
            await asyncio.sleep(self.retry_s)
        log.warning("DLR for unknown message id %s (%s)", report.message_id, report.stat)

    async def apply(self, report: DeliveryReport) -> bool:
        """Record one receipt (with the others ready now); False when its part is not known (yet)."""
        return await self._group.submit(report)

    async def _commit_group(self, reports: Sequence[DeliveryReport]) -> list[bool]:
        known = await self.apply_group(reports)
        return [report.message_id in known for report in reports]

    async def apply_group(self, reports: Sequence[DeliveryReport]) -> set[str]:
        """Store receipts in one transaction; the message ids whose part was known."""
        async with self.session_factory() as session, session.begin():
            wanted = sorted({r.message_id for r in reports})
            parts: dict[str, str] = {mid: did for mid, did in await session.execute(_PARTS, {"message_ids": wanted})}
            if not parts:
                return set()
            ids = sorted(set(parts.values()))
            rows = {r.id: dict(r._mapping) for r in await session.execute(_LOCK_DELIVERIES, {"delivery_ids": ids})}
            known = [r for r in reports if r.message_id in parts]
            await session.execute(_STORE_STATS, {
                "delivery_ids": [parts[r.message_id] for r in known], "message_ids": [r.message_id for r in known],
                "stats": [r.stat for r in known], "errs": [r.err for r in known],
            })
            stats: dict[str, list[str | None]] = {}
            for delivery_id, stat in await session.execute(_STATS_OF, {"delivery_ids": ids}):
                stats.setdefault(delivery_id, []).append(stat)
            failed: dict[str, DeliveryReport] = {}
            for r in known:
                if r.stat in FAILED_STATS:
                    failed.setdefault(parts[r.message_id], r)
            delivered: list[dict[str, Any]] = []
            events: list[Envelope] = []
            dead: list[Envelope] = []
            for delivery_id, current in rows.items():
                if current["status"] not in ("sending", "sent"):
                    continue
                total = int(current["meta"].get("parts", 1))
                if (bad := failed.get(delivery_id)) is not None:
                    reason = f"DLR {bad.stat} err {bad.err} for part {bad.message_id}"
                    await session.execute(_SET_FAILED, {"failed_id": delivery_id, "failed_reason": reason})
                    envelope = delivery_envelope(session, current, "failed", reason)
                    events.append(envelope)
                    dead.append(envelope.model_copy(update={"id": uuid.uuid4()}))
                elif len(got := stats.get(delivery_id, [])) >= total and all(s == "DELIVRD" for s in got):
                    delivered.append(current)
                    events.append(delivery_envelope(session, current, "delivered", f"DLR DELIVRD ({total} part(s))"))
            if delivered:
                await session.execute(_SET_STATUS, {"set_ids": [c["id"] for c in delivered],
                                                    "set_status": "delivered"})
            await emit_envelopes(session, events)
            # Through the outbox too: the DLQ copy is durable exactly when the `failed` state is.
            await emit_envelopes(session, dead, topic=DLQ_TOPIC)
        return set(parts)
