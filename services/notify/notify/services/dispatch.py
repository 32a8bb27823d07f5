"""Sending: claim a due delivery, talk to the server, commit the outcome; DLRs; crash recovery.

Exactly-once per delivery row, with one unavoidable window:

1. A worker claims one due row and marks it `sending` (claimed_by = this instance) in a single
   committed statement (`FOR UPDATE SKIP LOCKED`: two workers or instances never take one row).
2. It sends (SMTP: one message; SMPP: part by part, each part's SMSC message id committed as soon
   as the SMSC acknowledges it).
3. It commits `sent` (+ the final part id, + the event) right away, with `synchronous_commit=off`
   (our process dying cannot lose a commit PostgreSQL has acknowledged; only a PostgreSQL crash
   could, and then the row falls back to step 4).

Each instance holds a PostgreSQL advisory lock for its lifetime; PostgreSQL drops it when the
process dies. `recover()` hands `sending` rows of instances whose lock is free back to the queue
at once (no timeout to wait out), marked `uncertain`. That row is the window: killed after the
server accepted the message and before our `sent` commit (a few hundred microseconds), it is sent
again. The copy is recognisable: e-mail keeps its Message-ID (derived from the delivery id), SMS
parts already acknowledged are not submitted again. Everywhere else a crash loses nothing and
doubles nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from backbone.ids import new_id
from backbone.logging import mask_email, mask_phone
from notify.channels.email import PermanentSendError, SmtpSender
from notify.domain.sms import segment
from notify.models import deliveries, sms_parts
from notify.services.deliveries import record
from notify.settings import NotifySettings
from notify.smpp.client import DeliveryReport, SmppClient, SmppSubmitError

log = logging.getLogger("notify.dispatch")

LOCK_CLASS = 7263  # advisory lock namespace of dispatcher liveness locks
_FAILED_DLR = {"UNDELIV", "REJECTD", "EXPIRED", "DELETED", "UNKNOWN"}


_d = deliveries
# Prebuilt statements (parameters bound per call): no per-message statement building / cache keys.
_CLAIM = (
    update(_d)
    .where(_d.c.id == (
        select(_d.c.id)
        .where(_d.c.status.in_(["queued", "retrying"]), _d.c.channel == bindparam("claim_channel"),
               _d.c.next_attempt_at <= func.now())
        .order_by(_d.c.next_attempt_at)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    ))
    .values(status="sending", claimed_by=bindparam("claim_instance"), attempts=_d.c.attempts + 1, updated_at=func.now())
    .returning(*_d.c)
)
_MARK_SENT = (
    update(_d)
    .where(_d.c.id == bindparam("sent_id"), _d.c.status == "sending")
    .values(status="sent", provider_message_id=bindparam("provider_id"), claimed_by=None, reason=None,
            updated_at=func.now())
)
_SMS_PARTS_OF = select(sms_parts.c.part_no, sms_parts.c.message_id).where(
    sms_parts.c.delivery_id == bindparam("delivery_id")
)
_INSERT_PART = insert(sms_parts)
_INSERT_LAST_PART = insert(sms_parts).on_conflict_do_nothing()
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit = off")


def _lock_key(instance: str) -> int:
    return zlib.crc32(instance.encode()) - 2**31


def sms_ref(delivery_id: str) -> int:
    """The concatenation reference of a delivery: the same on a resend, so parts still match."""
    return zlib.crc32(delivery_id.encode()) & 0xFF


class Dispatcher:
    def __init__(
        self,
        engine: AsyncEngine,
        session_factory: async_sessionmaker[AsyncSession],
        settings: NotifySettings,
        *,
        smtp: SmtpSender,
        sms: SmppClient | None,
    ) -> None:
        self.engine = engine
        self.session_factory = session_factory
        self.settings = settings
        self.smtp = smtp
        self.sms = sms
        self.instance = new_id("ins")
        self.alive = asyncio.Event()
        # Idle workers wait here instead of polling; `wake()` (after a commit that queued rows in
        # this process) releases them. The generation counter catches a wake that lands while a
        # worker's claim is in flight. Only one idle worker per channel keeps polling (for rows
        # queued by other instances and retries coming due); a worker that gets a row wakes one more.
        self._idle: dict[str, list[asyncio.Event]] = {"email": [], "sms": []}
        self._generation: dict[str, int] = {"email": 0, "sms": 0}

    # ------------------------------------------------------------ liveness

    async def hold_liveness_lock(self) -> None:
        """Background loop: hold this instance's advisory lock on a dedicated connection."""
        while True:
            try:
                async with self.engine.connect() as conn:
                    await conn.execute(text("SELECT pg_advisory_lock(:c, :k)"),
                                       {"c": LOCK_CLASS, "k": _lock_key(self.instance)})
                    await conn.commit()
                    self.alive.set()
                    log.info("dispatcher %s holds its liveness lock", self.instance)
                    while True:
                        await asyncio.sleep(2)
                        await conn.execute(text("SELECT 1"))
                        await conn.commit()
            except asyncio.CancelledError:
                raise
            except Exception:
                # Without the lock another instance may recover our rows: stop claiming first.
                self.alive.clear()
                log.exception("liveness connection lost; pausing dispatch")
                await asyncio.sleep(1)

    async def _is_dead(self, conn: AsyncConnection, instance: str) -> bool:
        got = (await conn.execute(text("SELECT pg_try_advisory_lock(:c, :k)"),
                                  {"c": LOCK_CLASS, "k": _lock_key(instance)})).scalar()
        if got:
            await conn.execute(text("SELECT pg_advisory_unlock(:c, :k)"), {"c": LOCK_CLASS, "k": _lock_key(instance)})
        return bool(got)

    async def recover(self) -> int:
        """Requeue `sending` rows of dead instances (marked uncertain: the one at-least-once window)."""
        d = deliveries
        recovered = 0
        async with self.engine.connect() as conn:
            owners = [r[0] for r in await conn.execute(
                select(d.c.claimed_by).where(d.c.status == "sending", d.c.claimed_by.is_not(None)).distinct()
            )]
            for owner in owners:
                if owner == self.instance or not await self._is_dead(conn, owner):
                    continue
                result = await conn.execute(
                    update(d)
                    .where(d.c.status == "sending", d.c.claimed_by == owner)
                    .values(
                        status="retrying", claimed_by=None, next_attempt_at=func.now(), updated_at=func.now(),
                        reason="the sending process died mid-send; sending again (may duplicate)",
                        meta=d.c.meta.op("||")(text("""'{"uncertain": true}'::jsonb""")),
                    )
                )
                recovered += result.rowcount or 0
            await conn.commit()
        if recovered:
            log.warning("recovered %d delivery(ies) left in `sending` by dead instances", recovered)
        return recovered

    async def recovery_loop(self) -> None:
        while True:
            try:
                await self.recover()
            except Exception:
                log.exception("recovery failed")
            await asyncio.sleep(self.settings.recovery_interval_s)

    # ------------------------------------------------------------ workers

    def wake(self, channel: str | None = None, *, count: int | None = None) -> None:
        """Rows were queued (committed) for `channel` (None: both): release idle workers."""
        for ch in (channel,) if channel else tuple(self._idle):
            self._generation[ch] += 1
            waiters = self._idle[ch]
            for _ in range(len(waiters) if count is None else min(count, len(waiters))):
                waiters.pop(0).set()

    async def _wait_idle(self, channel: str, poll_s: float | None) -> None:
        event = asyncio.Event()
        self._idle[channel].append(event)
        try:
            await asyncio.wait_for(event.wait(), poll_s)
        except TimeoutError:
            pass
        finally:
            with contextlib.suppress(ValueError):
                self._idle[channel].remove(event)

    async def claim(self, channel: str) -> dict[str, Any] | None:
        async with self.engine.begin() as conn:
            row = (await conn.execute(_CLAIM, {"claim_channel": channel, "claim_instance": self.instance})).first()
        return dict(row._mapping) if row else None

    async def worker(self, channel: str, *, poller: bool = True) -> None:
        while True:
            await self.alive.wait()
            generation = self._generation[channel]
            try:
                row = await self.claim(channel)
            except Exception:
                log.exception("claim failed")
                await asyncio.sleep(1)
                continue
            if row is None:
                if self._generation[channel] == generation:
                    await self._wait_idle(channel, self.settings.dispatch_interval_s if poller else None)
                continue
            self.wake(channel, count=1)  # there may be more: get a sibling going
            await self.send_one(row)

    async def send_one(self, row: dict[str, Any]) -> None:
        try:
            if row["channel"] == "email":
                provider_id = await self.smtp.send(
                    to=row["address"], subject=row["subject"] or "", text=row["body"], html=row["body_html"],
                    delivery_id=row["id"],
                )
                await self._mark_sent(row, provider_id)
                log.info("e-mail %s sent to %s", row["id"], mask_email(row["address"]))
            else:
                await self._send_sms(row)
        except (PermanentSendError, SmppSubmitError) as exc:
            await self._failed(row, f"{type(exc).__name__}: {exc}", permanent=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any other failure is transient: retry with backoff
            await self._failed(row, f"{type(exc).__name__}: {exc}", permanent=False)

    async def _send_sms(self, row: dict[str, Any]) -> None:
        if self.sms is None:
            raise PermanentSendError("no SMPP_URL configured")
        message = segment(row["body"], ref=sms_ref(row["id"]))
        done: dict[int, str] = {}
        if int(row["attempts"]) > 1:  # parts exist only if an earlier attempt submitted some
            async with self.engine.connect() as conn:
                done = {r.part_no: r.message_id for r in await conn.execute(_SMS_PARTS_OF, {"delivery_id": row["id"]})}
        total = len(message.parts)
        ids: list[str] = []
        for no, part in enumerate(message.parts, start=1):
            if no in done:
                ids.append(done[no])  # acknowledged before a crash: never submitted twice
                continue
            (message_id,) = await self.sms.submit(row["address"], [part])
            ids.append(message_id)
            if no < total:
                async with self.engine.begin() as conn:
                    await conn.execute(_INSERT_PART,
                                       {"delivery_id": row["id"], "part_no": no, "message_id": message_id})
        await self._mark_sent(row, ",".join(ids), last_part=(total, ids[-1]) if total not in done else None)
        log.info("SMS %s sent to %s (%d part(s))", row["id"], mask_phone(row["address"]), total)

    async def _mark_sent(self, row: dict[str, Any], provider_id: str, last_part: tuple[int, str] | None = None) -> None:
        async with self.session_factory() as session, session.begin():
            # Our own crash cannot undo an acknowledged commit; skipping the WAL flush wait narrows
            # the accepted-but-not-recorded window (see the module docstring).
            await session.execute(_ASYNC_COMMIT)
            if last_part is not None:
                await session.execute(
                    _INSERT_LAST_PART, {"delivery_id": row["id"], "part_no": last_part[0], "message_id": last_part[1]}
                )
            result = await session.execute(_MARK_SENT, {"sent_id": row["id"], "provider_id": provider_id[:200]})
            if getattr(result, "rowcount", 0):  # not when a receipt already made it `delivered`
                await record(session, row, "sent")

    async def _failed(self, row: dict[str, Any], reason: str, *, permanent: bool) -> None:
        attempts = int(row["attempts"])
        final = permanent or attempts >= self.settings.max_send_attempts
        delay = min(self.settings.send_backoff_max_s, self.settings.send_backoff_initial_s * 2 ** (attempts - 1))
        now = datetime.now(UTC)
        async with self.session_factory() as session, session.begin():
            await session.execute(
                update(deliveries)
                .where(deliveries.c.id == row["id"])
                .values(
                    status="failed" if final else "retrying",
                    reason=reason if not final else f"{reason} (after {attempts} attempt(s))",
                    claimed_by=None,
                    updated_at=now,
                    next_attempt_at=None if final else now + timedelta(seconds=delay),
                )
            )
            if final:
                await record(session, row, "failed", f"{reason} (after {attempts} attempt(s))", dead_letter=True)
        if final:
            log.error("delivery %s failed for good after %d attempt(s): %s", row["id"], attempts, reason)
        else:
            log.warning("delivery %s attempt %d failed (%s); retry in %.1fs", row["id"], attempts, reason, delay)

    # ------------------------------------------------------------ delivery receipts

    async def on_dlr(self, report: DeliveryReport) -> None:
        """SMSC receipt → the part's stat; the delivery becomes delivered (all parts) or failed (any part)."""
        for _ in range(20):  # the receipt may overtake our commit of the part id
            if await self._apply_dlr(report):
                return
            await asyncio.sleep(0.25)
        log.warning("DLR for unknown message id %s (%s)", report.message_id, report.stat)

    async def _apply_dlr(self, report: DeliveryReport) -> bool:
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
            if report.stat in _FAILED_DLR:
                reason = f"DLR {report.stat} err {report.err} for part {report.message_id}"
                await session.execute(update(d).where(d.c.id == delivery_id)
                                      .values(status="failed", reason=reason, updated_at=func.now()))
                await record(session, current, "failed", reason, dead_letter=True)
            elif len(stats) >= total and all(s == "DELIVRD" for s in stats):
                await session.execute(update(d).where(d.c.id == delivery_id)
                                      .values(status="delivered", updated_at=func.now()))
                await record(session, current, "delivered", f"DLR DELIVRD ({total} part(s))")
        return True


async def keep_smpp_session(client: SmppClient) -> None:
    """Background loop: bind at start (retrying while the SMSC is down); the client reconnects after."""
    delay = 0.5
    try:
        while True:
            try:
                await client.connect()
                break
            except Exception as exc:  # noqa: BLE001 - SMSC down / refusing: keep trying
                log.warning("SMPP bind failed (%r); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(client.close())


__all__ = ["Dispatcher", "keep_smpp_session", "sms_ref"]
