"""Timer use cases. Each runs in the caller's transaction and writes its events to the outbox.

The domain (`sla.domain.timer`) decides; this module loads a timer row, applies one domain
transition and writes back the new state with the alerts it produced, in one transaction:

- ticket events (consumer): start on `node_entered`, complete on `node_completed`, pause while
  the ticket is `pending`, resume after, cancel when the ticket ends without completing the node;
- the scanner: `fire_due_timers` takes due rows with `FOR UPDATE SKIP LOCKED`, so several
  instances share the work and a row is fired by one transaction at a time; the fired marks and
  the outbox rows commit together, so a crash either fired (and will publish) or did not (and
  fires after restart). `alerts (timer_id, action)` is unique as a last guard.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy import and_, bindparam, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.db import db_now
from backbone.envelope import Envelope
from backbone.events import (
    SlaBreached,
    SlaEscalated,
    SlaMet,
    SlaWarning,
    TicketNodeCompleted,
    TicketNodeEntered,
)
from backbone.ids import new_id
from backbone.outbox import emit_envelopes, envelope_for
from backbone.vocabulary import Tier
from backbone.workers import claim_due
from sla import metrics
from sla.domain import timer as domain
from sla.domain.errors import IllegalTransition, NoMatchingPolicy
from sla.domain.timer import Action, ActionKind, SlaTimer
from sla.models import alerts, timers
from sla.services import policies, tiers
from sla.services.policies import PolicyCatalog

log = logging.getLogger("sla.timers")

LIVE_STATES = ("running", "warned", "breached", "escalated")  # not paused (open or completed late)
# Open = neither completed nor cancelled (a late completion keeps its breached/escalated state).
IS_OPEN = and_(timers.c.completed_at.is_(None), timers.c.cancelled_at.is_(None))
TimerRow = Any  # a result row with the _ROW columns

# What a row must carry to rebuild its timer and describe it in an alert.
_ROW = (
    timers.c.id, timers.c.ticket_id, timers.c.node, timers.c.ticket_kind, timers.c.business_type, timers.c.role,
    timers.c.assignee, timers.c.customer_id, timers.c.customer_name, timers.c.customer_tier,
    timers.c.customer_region, timers.c.account_manager_id, timers.c.policy_version, timers.c.rule_id,
    timers.c.correlation_id, timers.c.state_data,
)
#: The live feed's own records (`alerts` rows never published on Kafka): a timer started or cancelled, so
#: a board adds or drops the row at once. `sla.met` is both published and recorded.
TIMER_STARTED = "sla.timer_started"
TIMER_CANCELLED = "sla.timer_cancelled"


# --------------------------------------------------------------------------- rows ⇄ domain


async def load_timer(session: AsyncSession, catalog: PolicyCatalog, row: TimerRow) -> SlaTimer:
    policy = await catalog.resolved(session, row.policy_version, row.rule_id)
    return SlaTimer.model_validate({**row.state_data, "policy": policy})


def state_columns(t: SlaTimer) -> dict[str, Any]:
    """The row columns that follow from a domain timer (state_data is the timer itself)."""
    return {
        "state": t.state.value, "deadline": t.deadline, "next_fire_at": t.next_fire_at,
        "escalation_level": t.escalation_level, "completed_at": t.completed_at, "cancelled_at": t.cancelled_at,
        "met_late": t.met_late, "elapsed_s": t.consumed.total_seconds() if t.completed_at else None,
        "state_data": t.model_dump(mode="json", exclude={"policy"}),
    }


# Statements built once: the hot paths pass parameters only (no per-call statement building).
_STATE_COLUMNS = ("state", "deadline", "next_fire_at", "escalation_level", "completed_at", "cancelled_at",
                  "met_late", "elapsed_s", "state_data", "updated_at")
# Bind names must differ from column names in an UPDATE's SET: prefixed with v_.
_SAVE = update(timers).where(timers.c.id == bindparam("tid")).values(
    {c: bindparam(f"v_{c}") for c in _STATE_COLUMNS}
)
_INSERT = insert(timers).on_conflict_do_nothing().returning(timers.c.id)
_INSERT_ALERT = insert(alerts).on_conflict_do_nothing().returning(alerts.c.event_id)
# The scanner's claim: due rows, oldest due first, skipping rows another transaction holds.
_CLAIM_DUE = claim_due(timers, timers.c.next_fire_at <= bindparam("now"), order_by=timers.c.next_fire_at,
                       limit=bindparam("batch_size"), columns=_ROW)


def _save_params(timer_id: str, t: SlaTimer, at: datetime) -> dict[str, Any]:
    return {"tid": timer_id, **{f"v_{k}": v for k, v in state_columns(t).items()}, "v_updated_at": at}


async def _save(session: AsyncSession, timer_id: str, t: SlaTimer) -> None:
    await session.execute(_SAVE, _save_params(timer_id, t, await db_now(session)))


# --------------------------------------------------------------------------- alerts


def _point(key: str) -> str:
    """Domain action key → the event's warning_point: "warning:80%" → "80%", "warning:30m_before" → "30min"."""
    point = key.removeprefix("warning:")
    return point.replace("m_before", "min") if point.endswith("m_before") else point


def _context(row: TimerRow, t: SlaTimer) -> dict[str, Any]:
    return {
        "timer_id": row.id, "ticket_id": t.ticket_id, "node": t.node, "ticket_kind": row.ticket_kind,
        "business_type": row.business_type, "role": row.role, "assignee": row.assignee,
        "customer_id": row.customer_id, "customer_name": row.customer_name, "customer_tier": row.customer_tier,
        "customer_region": row.customer_region, "account_manager_id": row.account_manager_id,
        "deadline": t.deadline, "policy_version": t.policy.policy_version,
    }


def alert_payload(row: TimerRow, t: SlaTimer, action: Action | None, now: datetime) -> BaseModel:
    """The sla.* payload of one action (or `sla.met` for a completed timer when action is None)."""
    base = _context(row, t)
    lateness = (now - t.deadline).total_seconds()
    if action is None:
        return SlaMet(**base, elapsed_seconds=t.consumed.total_seconds(), late=bool(t.met_late))
    if action.kind is ActionKind.WARNING:
        return SlaWarning(**base, warning_point=_point(action.key),
                          remaining_seconds=domain.remaining(t, now).total_seconds())
    if action.kind is ActionKind.BREACH:
        return SlaBreached(**base, lateness_seconds=lateness)
    return SlaEscalated(**base, level=action.level or 1, escalate_to_role=action.notify_role or "supervisor",
                        lateness_seconds=lateness)


def _envelope(session: AsyncSession, row: TimerRow, payload: BaseModel) -> Envelope:
    return envelope_for(session, payload, subject=row.ticket_id, correlation_id=row.correlation_id)


async def write_outbox(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
    """Many alerts at once (one statement), counted as emitted."""
    await emit_envelopes(session, envelopes)
    for e in envelopes:
        metrics.ALERTS_EMITTED.labels(e.type).inc()


async def record_fired(
    session: AsyncSession, fired: Sequence[tuple[TimerRow, SlaTimer, Action, datetime]], fired_by: str
) -> int:
    """Alert rows + outbox rows for fired actions. A (timer, action) already recorded is not
    written again (the unique index): whatever raced us, an action is published once."""
    if not fired:
        return 0
    rows, envs = [], {}
    for row, t, action, now in fired:
        env = _envelope(session, row, alert_payload(row, t, action, now))
        envs[env.id] = env
        rows.append({
            "event_id": env.id, "event_type": env.type, "timer_id": row.id, "action": action.key,
            "ticket_id": t.ticket_id, "due_at": action.due_at, "fired_at": now, "fired_by": fired_by,
            "data": env.data,
        })
        metrics.FIRE_LATENESS.observe(max(0.0, (now - action.due_at).total_seconds()))
    kept = (await session.execute(_INSERT_ALERT, rows)).scalars().all()
    if len(kept) < len(rows):
        log.warning("%d alert(s) were already recorded; not published again", len(rows) - len(kept))
    await write_outbox(session, [envs[i] for i in kept])
    return len(kept)


# --------------------------------------------------------------------------- ticket events


async def start_timers(
    session: AsyncSession, catalog: PolicyCatalog, entries: Sequence[tuple[TicketNodeEntered, str | None]],
    recorded_by: str = "sla",
) -> int:
    """Start each entered node's timer under the active policy, in one statement; returns how many
    started. A replayed entry (same ticket, node and time) or an entry while the node's timer is
    still open starts nothing (the unique indexes: ON CONFLICT DO NOTHING). The tier is the
    customer's at the entry (`tiers.effective_tiers`: a re-grading the CRM reported before the entry
    wins over the ticket's copy), and the row records the tier the timer runs under."""
    version = await policies.active_version_for_txn(session)
    if version is None:
        log.error("no active SLA policy; %d node entries get no timer", len(entries))
        metrics.TIMERS_UNMATCHED.inc(len(entries))
        return 0
    params = []
    tiers_now = await tiers.effective_tiers(
        session, [(e.customer_id, e.entered_at, e.customer_tier.value) for e, _ in entries])
    for (entered, correlation_id), tier in zip(entries, tiers_now, strict=True):
        try:
            rule_id = await catalog.rule_for(session, version, entered.business_type, entered.ticket_kind,
                                              entered.node, Tier(tier), entered.role)
        except NoMatchingPolicy as exc:
            log.warning("no SLA rule: %s", exc)
            metrics.TIMERS_UNMATCHED.inc()
            continue
        t = domain.start_timer(entered.ticket_id, entered.node, await catalog.resolved(session, version, rule_id),
                               entered.entered_at)
        params.append({
            "id": new_id("tmr"), "ticket_id": entered.ticket_id, "node": entered.node,
            "ticket_kind": entered.ticket_kind, "business_type": entered.business_type, "role": entered.role,
            "assignee": entered.assignee, "customer_id": entered.customer_id, "customer_name": entered.customer_name,
            "customer_tier": tier, "customer_region": entered.customer_region,
            "account_manager_id": entered.account_manager_id,
            "policy_version": version, "rule_id": rule_id, "started_at": t.started_at,
            "correlation_id": correlation_id, **state_columns(t),
        })
    if not params:
        return 0
    inserted = set((await session.execute(_INSERT, params)).scalars().all())
    started = len(inserted)
    now = await db_now(session)
    await _record_feed(session, [
        _feed_row(uuid.uuid4(), TIMER_STARTED, p["id"], "started", p["ticket_id"], _started_data(p), now, recorded_by)
        for p in params if p["id"] in inserted])
    metrics.TIMERS_STARTED.labels(version).inc(started)
    if started < len(params):
        metrics.TRANSITIONS_IGNORED.labels("node_already_timed").inc(len(params) - started)
    return started


async def complete_timers(
    session: AsyncSession, catalog: PolicyCatalog, completions: Sequence[TicketNodeCompleted], fired_by: str
) -> None:
    """Stop each node's open timer: `sla.met` (late or not), after any action that was already due.
    The rows are locked and written with a few statements for the whole list, in its order."""
    pairs = list({(c.ticket_id, c.node) for c in completions})
    rows = (await session.execute(
        select(*_ROW).where(tuple_(timers.c.ticket_id, timers.c.node).in_(pairs), IS_OPEN)
        .order_by(timers.c.id).with_for_update()
    )).all()
    open_rows = {(r.ticket_id, r.node): r for r in rows}  # at most one open timer per (ticket, node)
    now = await db_now(session)
    fired: list[tuple[TimerRow, SlaTimer, Action, datetime]] = []
    met: list[Envelope] = []
    saves: list[dict[str, Any]] = []
    for c in completions:
        row = open_rows.pop((c.ticket_id, c.node), None)  # completed now: no longer open
        if row is None:
            metrics.TRANSITIONS_IGNORED.labels("no_open_timer").inc()
            continue
        try:
            # Actions due before the completion happened even if the scanner has not got to them.
            t, actions = domain.fire_due(await load_timer(session, catalog, row), c.completed_at)
            if domain.completion_clamped(t, c.completed_at):
                metrics.COMPLETIONS_CLAMPED.inc()
                log.warning("timer %s/%s: completion at %s is before its last event at %s: applied at that time",
                            c.ticket_id, c.node, c.completed_at.isoformat(), t.last_event_at.isoformat())
            done = domain.complete(t, c.completed_at)
        except IllegalTransition as exc:
            _ignored(exc)
            continue
        fired.extend((row, t, a, now) for a in actions)
        met.append(_envelope(session, row, alert_payload(row, done, None, now)))
        saves.append(_save_params(row.id, done, now))
    await record_fired(session, fired, fired_by)
    await write_outbox(session, met)
    await _record_feed(session, [_feed_row(e.id, e.type, e.data["timer_id"], "met", e.subject, e.data, now, fired_by)
                                 for e in met])
    if saves:
        await session.execute(_SAVE, saves)


async def _transition_ticket(
    session: AsyncSession, catalog: PolicyCatalog, ticket_id: str, node: str | None, states: tuple[str, ...] | None,
    step: Callable[[SlaTimer, datetime], SlaTimer], at: datetime,
    done: list[tuple[TimerRow, SlaTimer]] | None = None,
) -> int:
    q = select(*_ROW).where(timers.c.ticket_id == ticket_id, IS_OPEN)
    if states is not None:
        q = q.where(timers.c.state.in_(states))
    if node is not None:
        q = q.where(timers.c.node == node)
    n = 0
    for row in (await session.execute(q.order_by(timers.c.id).with_for_update())).all():
        try:
            new = step(await load_timer(session, catalog, row), at)
        except IllegalTransition as exc:
            _ignored(exc)
            continue
        await _save(session, row.id, new)
        if done is not None:
            done.append((row, new))
        n += 1
    return n


async def pause_ticket(
    session: AsyncSession, catalog: PolicyCatalog, *, ticket_id: str, node: str | None, at: datetime
) -> int:
    """The ticket went `pending`: its live timers stop counting (remaining time kept)."""
    return await _transition_ticket(session, catalog, ticket_id, node, LIVE_STATES, domain.pause, at)


async def resume_ticket(
    session: AsyncSession, catalog: PolicyCatalog, *, ticket_id: str, node: str | None, at: datetime
) -> int:
    return await _transition_ticket(session, catalog, ticket_id, node, ("paused",), domain.resume, at)


async def cancel_ticket(
    session: AsyncSession, catalog: PolicyCatalog, *, ticket_id: str, at: datetime, recorded_by: str = "sla"
) -> int:
    """The ticket ended without completing its open nodes: their timers are cancelled; nothing is published
    (no alert), the live feed records it (`sla.timer_cancelled`)."""
    cancelled: list[tuple[TimerRow, SlaTimer]] = []
    n = await _transition_ticket(session, catalog, ticket_id, None, None, domain.cancel, at, done=cancelled)
    now = await db_now(session)
    await _record_feed(session, [
        _feed_row(uuid.uuid4(), TIMER_CANCELLED, row.id, "cancelled", row.ticket_id,
                  _jsonable({**_context(row, t), "cancelled_at": t.cancelled_at}), now, recorded_by)
        for row, t in cancelled])
    return n


def _started_data(p: dict[str, Any]) -> dict[str, Any]:
    keys = ("ticket_id", "node", "ticket_kind", "business_type", "role", "assignee", "customer_id", "customer_name",
            "customer_tier", "customer_region", "account_manager_id", "deadline", "policy_version", "rule_id",
            "started_at")
    return _jsonable({"timer_id": p["id"], **{k: p[k] for k in keys}})


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = to_jsonable_python(data)
    return out


def _feed_row(event_id: uuid.UUID, event_type: str, timer_id: str, action: str, ticket_id: str,
              data: dict[str, Any], at: datetime, by: str) -> dict[str, Any]:
    return {"event_id": event_id, "event_type": event_type, "timer_id": timer_id, "action": action,
            "ticket_id": ticket_id, "due_at": None, "fired_at": at, "fired_by": by, "data": data}


async def _record_feed(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Records for the live feed only (one statement); a replay is refused by `(timer_id, action)`."""
    if rows:
        await session.execute(_INSERT_ALERT, rows)


def _ignored(exc: IllegalTransition) -> None:
    # Redelivered or reordered ticket events are expected: log and move on (never DLQ).
    metrics.TRANSITIONS_IGNORED.labels(type(exc).__name__).inc()
    log.info("ticket event ignored: %s", exc)


# --------------------------------------------------------------------------- the scanner


async def fire_due_timers(
    session: AsyncSession, catalog: PolicyCatalog, *, now: datetime, batch_size: int, fired_by: str
) -> int:
    """Fire the due actions of up to `batch_size` timers. Returns the number of timers taken.

    SKIP LOCKED (`claim_due`): rows another instance (or a ticket event) holds are left to it, so
    no action is fired twice, and no instance waits for another.
    """
    rows = (await session.execute(_CLAIM_DUE, {"now": now, "batch_size": batch_size})).all()
    if not rows:
        return 0
    fired: list[tuple[TimerRow, SlaTimer, Action, datetime]] = []
    updates: list[dict[str, Any]] = []
    for row in rows:
        at = now  # the database's clock, as the claim's (the scanner reads it per pass)
        new, actions = domain.fire_due(await load_timer(session, catalog, row), at)
        fired.extend((row, new, a, at) for a in actions)
        updates.append(_save_params(row.id, new, at))
    await record_fired(session, fired, fired_by)
    await session.execute(_SAVE, updates)  # one executemany
    return len(rows)
