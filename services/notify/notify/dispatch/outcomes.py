"""The outcome of one send attempt, committed with its event: sent, retried later, or failed for good.

- `sent`: committed right after the server's answer, with `synchronous_commit=off` (our crash
  cannot undo a commit PostgreSQL acknowledged; skipping the WAL flush wait narrows the window
  between the server's acceptance and this commit, see `notify.dispatch`). Group commit: the `sent`
  outcomes that become ready while one `sent` transaction is in flight are committed together in
  the next one (one UPDATE for all rows, one insert of their events); a row never waits for
  anything but the transaction in flight and its own, and `sent()` returns once its row is committed.
  A group that fails is committed again row by row: a row that cannot be committed fails only itself.
- `uncertain`: the server accepted the message but `sent` could not be committed (the database
  away past the worker's retries): the row goes back to the queue flagged `uncertain` (it may be
  sent twice; the copy is recognisable, see `notify.dispatch`).
- `failed`: a transient failure goes back to the queue as `retrying`, due after the `Backoff`
  delay of its attempt (SEND_BACKOFF_INITIAL_S … SEND_BACKOFF_MAX_S); a permanent one, or the
  MAX_SEND_ATTEMPTS-th, is `failed` with its reason and a copy on the DLQ (same transaction).
  An unreachable server (the channel's `unreachable_errors`) is no fault of the message: the try
  gives its attempt back and the row waits out the outage, due again after half its age (between
  SEND_BACKOFF_INITIAL_S and SEND_BACKOFF_MAX_S, jittered: a queue of thousands does not stampede
  the server when it returns), and fails only SEND_UNREACHABLE_WINDOW_S after it was queued.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import String, bindparam, func, text, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone.outbox import emit_envelopes
from backbone.workers import Backoff
from notify.channels.base import Row, Sent
from notify.dispatch.group_commit import GroupCommit
from notify.models import deliveries, sms_parts
from notify.services.deliveries import delivery_envelope, record

log = logging.getLogger("notify.dispatch")

_d = deliveries
# Prebuilt statements (parameters bound per call): no per-message statement building / cache keys.
_INSERT_LAST_PART = insert(sms_parts).on_conflict_do_nothing()
# The rows of a group `sent` in one statement; the ids of the rows still `sending` (not yet `delivered` by a receipt).
_MARK_SENT = text(f"""
    UPDATE {_d.fullname} AS d
       SET status = 'sent', provider_message_id = v.provider, claimed_by = NULL, reason = NULL, updated_at = now()
      FROM unnest(:ids, :providers) AS v(id, provider)
     WHERE d.id = v.id AND d.status = 'sending'
 RETURNING d.id
""").bindparams(bindparam("ids", type_=ARRAY(String)), bindparam("providers", type_=ARRAY(String)))
SENT_GROUP_MAX = 500  # rows per `sent` transaction
_REQUEUE_UNCERTAIN = (
    update(_d)
    .where(_d.c.id == bindparam("uncertain_id"), _d.c.status == "sending")
    .values(status="retrying", claimed_by=None, next_attempt_at=func.now(), updated_at=func.now(),
            reason=bindparam("uncertain_reason"),
            meta=_d.c.meta.op("||")(text("""'{"uncertain": true}'::jsonb""")))
)
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit = off")


class Outcomes:
    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], *, max_attempts: int, backoff: Backoff,
        unreachable_window_s: float = 86_400.0,
    ) -> None:
        self.session_factory = session_factory
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.unreachable_window_s = unreachable_window_s
        self._sent: GroupCommit[tuple[Row, Sent], None] = GroupCommit(
            self._commit_group, max_group=SENT_GROUP_MAX, name="notify-sent-commits")

    async def sent(self, row: Row, sent: Sent) -> None:
        """Commit `sent` (+ the last SMS part, + the event); returns once committed, raises if the commit failed."""
        await self._sent.submit((row, sent))

    async def _commit_group(self, group: Sequence[tuple[Row, Sent]]) -> list[None]:
        await self._commit_sent(list(group))
        return [None] * len(group)

    async def _commit_sent(self, group: list[tuple[Row, Sent]]) -> None:
        async with self.session_factory() as session, session.begin():
            await session.execute(_ASYNC_COMMIT)
            last_parts = [{"delivery_id": row["id"], "part_no": sent.last_part[0], "message_id": sent.last_part[1]}
                          for row, sent in group if sent.last_part is not None]
            if last_parts:
                await session.execute(_INSERT_LAST_PART, last_parts)
            # only the rows still `sending`: not one a receipt already made `delivered`
            marked = set((await session.execute(_MARK_SENT, {
                "ids": [row["id"] for row, _ in group], "providers": [sent.provider_id[:200] for _, sent in group],
            })).scalars())
            await emit_envelopes(session, [delivery_envelope(session, row, "sent", None)
                                           for row, _ in group if row["id"] in marked])

    async def uncertain(self, row: Row, reason: str) -> None:
        """Accepted by the server, `sent` not committed: back to the queue, flagged `uncertain`."""
        async with self.session_factory() as session, session.begin():
            why = f"accepted by the server but not recorded ({reason}); sending again (may duplicate)"
            await session.execute(_REQUEUE_UNCERTAIN, {"uncertain_id": row["id"], "uncertain_reason": why[:1000]})
        log.error("delivery %s: accepted by the server, `sent` not committed (%s); requeued as uncertain",
                  row["id"], reason)

    def retry_after(self, row: Row, *, unreachable: bool, now: datetime) -> float | None:
        """Seconds until the row's next try, or None when it has failed for good (permanent aside)."""
        if not unreachable:
            return None if int(row["attempts"]) >= self.max_attempts else self.backoff.delay(int(row["attempts"]))
        age_s = max(0.0, (now - row["created_at"]).total_seconds())
        if age_s >= self.unreachable_window_s:
            return None
        half_age = min(self.backoff.max_s, max(self.backoff.initial_s, age_s / 2))
        return float(half_age * random.uniform(0.8, 1.2))  # jitter, not secrecy

    async def failed(self, row: Row, reason: str, *, permanent: bool, unreachable: bool = False) -> None:
        attempts = int(row["attempts"])
        now = datetime.now(UTC)
        delay = None if permanent else self.retry_after(row, unreachable=unreachable, now=now)
        final = delay is None
        async with self.session_factory() as session, session.begin():
            await session.execute(
                update(deliveries)
                .where(deliveries.c.id == row["id"])
                .values(
                    # an unreachable server's try is not one of the message's MAX_SEND_ATTEMPTS
                    attempts=deliveries.c.attempts - (1 if unreachable and not final else 0),
                    status="failed" if final else "retrying",
                    reason=reason if not final else f"{reason} (after {attempts} attempt(s))",
                    claimed_by=None,
                    updated_at=now,
                    next_attempt_at=None if delay is None else now + timedelta(seconds=delay),
                )
            )
            if final:
                await record(session, row, "failed", f"{reason} (after {attempts} attempt(s))", dead_letter=True)
        if final:
            log.error("delivery %s failed for good after %d attempt(s): %s", row["id"], attempts, reason)
        else:
            log.warning("delivery %s attempt %d failed (%s); retry in %.1fs", row["id"], attempts, reason, delay)
