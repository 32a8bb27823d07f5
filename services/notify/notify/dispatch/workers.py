"""The dispatch workers: claim one due row of a channel, send it, commit the outcome; wait when idle.

EMAIL_WORKERS / SMS_WORKERS `DispatchWorker`s per process, one per (channel, index). A claim is
one committed statement: the row goes `sending` with `claimed_by` = this instance
(`claim_due`: `FOR UPDATE SKIP LOCKED`, two workers or instances never take one row).

Idle workers do not poll: they wait for `Wakeup.wake()` (`wakeup.py`), which the consumer calls after a commit
that queued rows in this process (and the digest worker after queuing a summary). Only worker 0 of
a channel also polls, every DISPATCH_INTERVAL_S, for rows queued by other instances and retries
coming due. A worker that got a row wakes one more sibling (there may be more).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import bindparam, func, update
from sqlalchemy.ext.asyncio import AsyncEngine

from backbone.workers import Worker, claim_due
from notify.channels.base import Channel
from notify.context import DispatchParts
from notify.models import deliveries

log = logging.getLogger("notify.dispatch")

IDLE_WAIT_S = 60.0  # a worker that does not poll still looks once a minute (belt and braces)
LEASE_WAIT_S = 0.1  # how often a worker looks whether the instance holds its lease again

_d = deliveries
# Prebuilt (parameters bound per call): the claim is the hot path of every message.
_CLAIM = (
    update(_d)
    .where(_d.c.id == claim_due(
        _d,
        _d.c.status.in_(["queued", "retrying"]), _d.c.channel == bindparam("claim_channel"),
        _d.c.next_attempt_at <= func.now(),
        order_by=_d.c.next_attempt_at, limit=1, columns=(_d.c.id,),
    ).scalar_subquery())
    .values(status="sending", claimed_by=bindparam("claim_instance"), attempts=_d.c.attempts + 1, updated_at=func.now())
    .returning(*_d.c)
)


class DispatchWorker(Worker):
    def __init__(
        self,
        channel: Channel,
        index: int,
        *,
        parts: DispatchParts,
        engine: AsyncEngine,
        poll_s: float | None,
    ) -> None:
        super().__init__(f"notify-dispatch-{channel.name}-{index}")
        self.channel = channel
        self.engine = engine
        self.lease, self.wakeup, self.outcomes = parts.lease, parts.wakeup, parts.outcomes
        self.poll_s = poll_s  # None: wait for a wake-up only

    async def claim(self) -> dict[str, Any] | None:
        async with self.engine.begin() as conn:
            row = (await conn.execute(
                _CLAIM, {"claim_channel": self.channel.name, "claim_instance": self.lease.instance}
            )).first()
        return dict(row._mapping) if row else None

    async def step(self) -> float:
        name = self.channel.name
        self.wakeup.busy(name, self)
        if not self.lease.alive.is_set():
            return LEASE_WAIT_S  # no lock, no claim
        generation = self.wakeup.generation[name]
        row = await self.claim()
        if row is None:
            if self.wakeup.generation[name] != generation:
                return 0.0  # rows were queued while we claimed: look again
            self.wakeup.idle(name, self)
            return self.poll_s if self.poll_s is not None else IDLE_WAIT_S
        self.wakeup.wake(name, count=1)  # there may be more: get a sibling going
        async with self.lease.sending():
            await self.send(row)
        return 0.0

    async def send(self, row: dict[str, Any]) -> None:
        """Send one claimed row and commit the outcome (a failure is the row's, never the worker's)."""
        try:
            sent = await self.channel.send(row)
            await self.outcomes.sent(row, sent)
        except self.channel.permanent_errors as exc:
            await self.outcomes.failed(row, f"{type(exc).__name__}: {exc}", permanent=True)
            return
        except Exception as exc:  # noqa: BLE001 - any other failure is transient: retry with backoff
            await self.outcomes.failed(row, f"{type(exc).__name__}: {exc}", permanent=False)
            return
        log.info("%s %s sent %s", "e-mail" if self.channel.name == "email" else "SMS", row["id"], sent.summary)
