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

import functools
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from pydantic_core import from_json, to_json, to_jsonable_python
from sqlalchemy import ColumnElement, Table, and_, bindparam, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import FromClause, Subquery

from backbone.arrays import json_recordset, json_rows, table_columns
from backbone.db import db_now, row_type
from backbone.envelope import Envelope
from backbone.events import (
    SlaBreached,
    SlaEscalated,
    SlaMet,
    SlaWarning,
    TicketNodeCompleted,
    TicketNodeEntered,
    event_type_of,
)
from backbone.ids import new_id
from backbone.outbox import binding_of, envelope_for, rows_insert, rows_params
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

# What a row must carry to rebuild its timer and describe it in an alert. `state_data` is read as its JSON
# text (`load_timer` parses it in pydantic's core), not decoded to a dict by the driver's jsonb codec first.
_ROW = (
    timers.c.id, timers.c.ticket_id, timers.c.node, timers.c.ticket_kind, timers.c.business_type, timers.c.role,
    timers.c.assignee, timers.c.customer_id, timers.c.customer_name, timers.c.customer_tier,
    timers.c.customer_region, timers.c.account_manager_id, timers.c.policy_version, timers.c.rule_id,
    timers.c.correlation_id, sa.cast(timers.c.state_data, sa.Text).label("state_data"),
)


# A `_ROW` row as a plain tuple: a run reads each of its rows' columns a score of times (the timer, the alert's
# context, `sla.met`), and an attribute of SQLAlchemy's `Row` costs ten times a tuple's.
_Row = row_type(_ROW)


def _rows(result: sa.Result[Any]) -> list[TimerRow]:
    return [_Row(*r) for r in result]


#: The live feed's own records (`alerts` rows never published on Kafka): a timer started or cancelled, so
#: a board adds or drops the row at once. `sla.met` is both published and recorded.
TIMER_STARTED = "sla.timer_started"
TIMER_CANCELLED = "sla.timer_cancelled"


# --------------------------------------------------------------------------- rows ⇄ domain


async def load_timer(session: AsyncSession, catalog: PolicyCatalog, row: TimerRow) -> SlaTimer:
    """The domain timer of a row; its `state_data` as JSON text (`_ROW`) or already decoded (a whole-row read)."""
    policy = await catalog.resolved(session, row.policy_version, row.rule_id)
    data = row.state_data
    return SlaTimer.model_validate({**(from_json(data) if isinstance(data, str) else data), "policy": policy})


def _json(data: Any) -> str:
    return to_json(data).decode()


def stored_columns(data: dict[str, Any], consumed: timedelta | None = None) -> dict[str, Any]:
    """`state_columns` of a timer in its stored form (`domain.start_stored`, `domain.complete_stored`); a
    completed one's business time used is `consumed`."""
    return {
        "state": data["state"], "deadline": data["deadline"], "next_fire_at": data["next_fire_at"],
        "escalation_level": data["escalation_level"], "completed_at": data["completed_at"],
        "cancelled_at": data["cancelled_at"], "met_late": data["met_late"],
        "elapsed_s": consumed.total_seconds() if consumed is not None and data["completed_at"] else None,
        "state_data": _json(data),
    }


def state_columns(t: SlaTimer) -> dict[str, Any]:
    """The row columns that follow from a domain timer (state_data is the timer itself, as JSON text:
    serialised in pydantic's core, several times cheaper than a dict through json.dumps)."""
    return {
        "state": t.state.value, "deadline": t.deadline, "next_fire_at": t.next_fire_at,
        "escalation_level": t.escalation_level, "completed_at": t.completed_at, "cancelled_at": t.cancelled_at,
        "met_late": t.met_late, "elapsed_s": t.consumed.total_seconds() if t.completed_at else None,
        "state_data": t.model_dump_json(exclude={"policy"}),
    }


# --------------------------------------------------------------------------- set-based statements
# The hot paths (a run of starts or stops, a scanner batch) send their rows as one JSON document that
# PostgreSQL reads as a recordset (`backbone.arrays.json_recordset`): one statement and one parameter whatever
# the number of rows, where an executemany pays SQLAlchemy's parameter processing per row and value, and
# arrays per column cost the client about four times as much to encode (asyncpg checks every element). Built
# once, from the tables, as Core constructs: a table is rendered by SQLAlchemy, so an engine's
# `schema_translate_map` applies to them as to every other statement. Each statement's rows are the parameter
# `p_<name>` (`_rows_param`): a parameter named like a column of the table an INSERT or UPDATE writes is
# reserved by SQLAlchemy.


def _param(name: str) -> str:
    return f"p_{name}"


def _array(name: str, item: sa.types.TypeEngine[Any]) -> ColumnElement[Any]:
    """`CAST(:p_<name> AS <item>[])`."""
    return sa.cast(bindparam(_param(name)), ARRAY(item))


def _recordset(table: Table, names: Sequence[str], *, param: str, extra_texts: Sequence[str] = (),
               alias: str = "v") -> tuple[Subquery, dict[str, ColumnElement[Any]], tuple[str, ...]]:
    """The rows of the parameters `p_<param>…` (`_rows_param`) with `names` of `table` (and `extra_texts` keys)
    and their `ordinality`; per name the expression that reads the value as the column's type; and which keys
    travel as text arrays: the JSONB columns (their JSON text, cast where written) and the extra ones."""
    texts = (*(n for n in names if isinstance(table.c[n].type, JSONB)), *extra_texts)
    v = json_recordset(table_columns(table, [n for n in names if n not in texts]), param=_param(param), name=alias,
                       texts=texts)
    return v, _as_columns(table, v, names), texts


def _as_columns(table: Table, rows: FromClause, names: Sequence[str]) -> dict[str, ColumnElement[Any]]:
    """Per name, the value of `rows` (a `_recordset`, or a CTE of it) as `table`'s column: a JSONB column's JSON
    text cast to jsonb, the others as they are."""
    return {n: sa.cast(rows.c[n], JSONB) if isinstance(table.c[n].type, JSONB) else rows.c[n] for n in names}


def _rows_param(param: str, rows: Sequence[dict[str, Any]], texts: Sequence[str]) -> dict[str, Any]:
    """The parameters of a `_recordset`: the rows (dicts by column name; other keys are ignored) in order."""
    return json_rows(rows, param=_param(param), texts=texts)


_STATE_COLUMNS = ("state", "deadline", "next_fire_at", "escalation_level", "completed_at", "cancelled_at",
                  "met_late", "elapsed_s", "state_data", "updated_at")
_SAVE_FROM, _SAVE_VALUES, _SAVE_TEXTS = _recordset(timers, ("id", *_STATE_COLUMNS), param="saves")
# `t.id = ANY(:p_id)` besides the join: the rows are found by the primary key (a bitmap index scan) whatever
# the table's statistics say; without it a table whose statistics lag behind (filled minutes ago) was
# joined by a sequential scan of every timer (docs/sla.md, "Performance").
_SAVE_MANY = (
    sa.update(timers).values({c: _SAVE_VALUES[c] for c in _STATE_COLUMNS})
    .where(timers.c.id == _SAVE_FROM.c.id, timers.c.id == sa.any_(_array("id", sa.Text())))
)


def _save_params(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {**_rows_param("saves", rows, _SAVE_TEXTS), _param("id"): [r["id"] for r in rows]}


_START_COLUMNS = ("id", "ticket_id", "node", "ticket_kind", "business_type", "role", "assignee", "customer_id",
                  "customer_name", "customer_tier", "customer_region", "account_manager_id", "policy_version",
                  "rule_id", "started_at", "correlation_id", *_STATE_COLUMNS[:-1])
#: What a `sla.timer_started` feed record carries besides the timer's id.
_STARTED_KEYS = ("ticket_id", "node", "ticket_kind", "business_type", "role", "assignee", "customer_id",
                 "customer_name", "customer_tier", "customer_region", "account_manager_id", "deadline",
                 "policy_version", "rule_id", "started_at")
_START_TEXTS = tuple(n for n in _START_COLUMNS if isinstance(timers.c[n].type, JSONB))  # state_data, as text
#: The feed record's two times as text, as the rows' JSON document carries them (pydantic's ISO 8601, "Z"): its data
#: is built in the statement from the row's own columns (`_feed_data`), where a JSON text per start, serialised
#: here, was ~4 us of the service's CPU per start.
_FEED_TIMES = {"started_at": "feed_started_at", "deadline": "feed_deadline"}
_START_FROM = json_recordset(
    [*table_columns(timers, [n for n in _START_COLUMNS if n not in _START_TEXTS]),
     *((n, postgresql.TEXT()) for n in _FEED_TIMES.values())],
    param=_param("starts"), name="v", texts=_START_TEXTS)


def _feed_data(v: FromClause) -> ColumnElement[Any]:
    """`sla.timer_started`'s data: `jsonb_build_object` of the timer's id and `_STARTED_KEYS` from the run's row
    `v`, the times as the document's text: the same JSON value (jsonb keeps no key order) `_json` gives for
    `{"timer_id": id, **{k: row[k] for k in _STARTED_KEYS}}` (an integration test holds them equal)."""
    pairs: list[ColumnElement[Any]] = [sa.literal_column("'timer_id'"), v.c.id]
    for key in _STARTED_KEYS:
        pairs += [sa.literal_column(f"'{key}'"), v.c[_FEED_TIMES.get(key, key)]]
    return sa.func.jsonb_build_object(*pairs, type_=JSONB)


def _start_statement() -> sa.Select[tuple[str]]:
    """One statement per run of starts: the timers (a replayed entry, or one while the node's timer is still
    open, is skipped: ON CONFLICT DO NOTHING) and, for those inserted, their `sla.timer_started` feed
    records; returns the ids inserted."""
    v = sa.select(*_START_FROM.c).cte("v").prefix_with("MATERIALIZED")
    values = _as_columns(timers, v, _START_COLUMNS)
    ins = (
        insert(timers).from_select(_START_COLUMNS,
                                   sa.select(*(values[c] for c in _START_COLUMNS)).order_by(v.c.ordinality))
        .on_conflict_do_nothing().returning(timers.c.id).cte("ins")
    )
    feed = insert(alerts).from_select(
        ("event_id", "event_type", "timer_id", "action", "ticket_id", "fired_at", "fired_by", "data"),
        sa.select(sa.func.gen_random_uuid(), sa.cast(bindparam(_param("event_type")), sa.Text()), v.c.id,
                  sa.literal_column("'started'"), v.c.ticket_id, sa.func.statement_timestamp(),
                  sa.cast(bindparam(_param("recorded_by")), sa.Text()), _feed_data(v))
        .select_from(v.join(ins, ins.c.id == v.c.id)).order_by(v.c.ordinality),
    ).cte("feed")
    return sa.select(ins.c.id).add_cte(feed)


_START = _start_statement()

_ALERT_COLUMNS = ("event_id", "event_type", "timer_id", "action", "ticket_id", "due_at", "fired_at", "fired_by", "data")
_ALERTS_FROM, _ALERTS_VALUES, _ALERTS_TEXTS = _recordset(alerts, _ALERT_COLUMNS, param="alerts")
# Alert rows (and feed records); a (timer, action) already recorded is not written again. `ux_sla_alerts_once` is
# the only arbiter: every row's event id is new (uuid4, drawn per call), and without a conflict target PostgreSQL
# probes every unique index first (the primary key and `event_id` too: a fifth of the statement's buffer reads).
_INSERT_ALERTS = (
    insert(alerts).from_select(_ALERT_COLUMNS, sa.select(*(_ALERTS_VALUES[c] for c in _ALERT_COLUMNS))
                               .select_from(_ALERTS_FROM).order_by(_ALERTS_FROM.c.ordinality))
    .on_conflict_do_nothing(index_elements=(alerts.c.timer_id, alerts.c.action)).returning(alerts.c.event_id)
)

# The open timers of (ticket, node) pairs, locked: per pair, an index probe of `ux_sla_timers_entry`
# (ticket_id, node, …) whatever the table's statistics say. As a plain join of `unnest` with the open-timer
# condition, a table whose statistics lag behind (filled in the last minute: the IS NULL conditions then guess
# 0.5 % each) was hashed whole per run: 56 ms per 100 stops at 20,000 open timers, 0.6 ms so (docs/sla.md,
# "Performance"). The OFFSET 0 keeps the planner from flattening the per-pair subquery into that join; the
# pair's closed timers are locked too (nothing else waits on them: the scanner skips locked rows).
_PAIRS = sa.func.unnest(_array("ticket_ids", sa.Text()), _array("nodes", sa.Text())).table_valued(
    sa.column("ticket_id", sa.Text()), sa.column("node", sa.Text())).render_derived(name="v")
_PAIR_TIMERS = (
    sa.select(*_ROW, timers.c.completed_at, timers.c.cancelled_at)
    .where(timers.c.ticket_id == _PAIRS.c.ticket_id, timers.c.node == _PAIRS.c.node)
    .offset(0).with_for_update().lateral("t")
)
_LOCK_OPEN = (
    sa.select(*(_PAIR_TIMERS.c[c.name] for c in _ROW)).select_from(_PAIRS).join(_PAIR_TIMERS, sa.true())
    .where(_PAIR_TIMERS.c.completed_at.is_(None), _PAIR_TIMERS.c.cancelled_at.is_(None))
    .order_by(_PAIR_TIMERS.c.id)
)

# The scanner's claim: due rows, oldest due first, skipping rows another transaction holds.
_CLAIM_DUE = claim_due(timers, timers.c.next_fire_at <= bindparam("now"), order_by=timers.c.next_fire_at,
                       limit=bindparam("batch_size"), columns=_ROW)


def _save_row(timer_id: str, t: SlaTimer, at: datetime) -> dict[str, Any]:
    return {"id": timer_id, **state_columns(t), "updated_at": at}


@functools.cache
def _save_and_publish_statement(outbox: Table) -> sa.Update:
    """`_SAVE_MANY` with the outbox rows of `backbone.outbox.rows_insert` as a data-modifying CTE: a run's new
    timer states and the events they publish in one statement (one round trip, and the outbox rows as five
    arrays instead of an executemany's per-row parameters)."""
    return _SAVE_MANY.add_cte(rows_insert(outbox).cte("published"))


@functools.cache
def _save_publish_and_record_met_statement(outbox: Table) -> sa.Update:
    """`_save_and_publish_statement` with the `sla.met` alert rows (the live feed's records of the completions)
    taken from the outbox rows it writes: each one's event id, type, subject, and its data and timer id read from
    the payload (the envelope's JSON, its `data` as `met_data` built it), recorded at `:p_met_at` by
    `:p_recorded_by`, in publishing order; a (timer, met) already recorded is not written again. One round trip
    and no JSON of their own from the service, where `record_fired` sent them as rows of their own statement
    (their data serialised a second time beside the envelope's)."""
    published = (rows_insert(outbox)
                 .returning(outbox.c.seq, outbox.c.event_id, outbox.c.event_type, outbox.c.key, outbox.c.payload)
                 .cte("published"))
    met = (
        sa.select(published.c.seq, published.c.event_id, published.c.event_type, published.c.key,
                  sa.cast(sa.func.convert_from(published.c.payload, sa.literal_column("'UTF8'")), JSONB)
                  .op("->", return_type=JSONB)(sa.literal_column("'data'")).label("data"))
        .where(published.c.event_type == sa.literal_column(f"'{event_type_of(SlaMet)[0]}'"))
        .cte("met").prefix_with("MATERIALIZED")
    )
    record = insert(alerts).from_select(
        ("event_id", "event_type", "timer_id", "action", "ticket_id", "fired_at", "fired_by", "data"),
        sa.select(met.c.event_id, met.c.event_type, met.c.data.op("->>", return_type=sa.Text())(
                      sa.literal_column("'timer_id'")), sa.literal_column("'met'"),
                  met.c.key, sa.cast(bindparam(_param("met_at")), sa.DateTime(timezone=True)),
                  sa.cast(bindparam(_param("recorded_by")), sa.Text()), met.c.data)
        .order_by(met.c.seq),
    ).on_conflict_do_nothing(index_elements=(alerts.c.timer_id, alerts.c.action)).cte("met_recorded")
    return _SAVE_MANY.add_cte(published).add_cte(met).add_cte(record)


async def _save_many(session: AsyncSession, rows: Sequence[dict[str, Any]],
                     publish: Sequence[Envelope] = (), *, met_at: datetime | None = None,
                     recorded_by: str | None = None) -> None:
    """Write back the new state of several timers (distinct ids) and the events to publish with it (written to
    the outbox in this order, counted as emitted), one statement; with `met_at`, the `sla.met` among them are
    recorded as alerts too (`_save_publish_and_record_met_statement`)."""
    if publish:
        if not rows:
            raise ValueError("events to publish come with the timers whose state produced them")
        outbox = binding_of(session).table
        if met_at is not None:
            await session.execute(_save_publish_and_record_met_statement(outbox), {
                **_save_params(rows), **rows_params(session, publish), _param("met_at"): met_at,
                _param("recorded_by"): recorded_by})
        else:
            await session.execute(_save_and_publish_statement(outbox), {
                **_save_params(rows), **rows_params(session, publish)})
        for etype, n in Counter(e.type for e in publish).items():
            metrics.ALERTS_EMITTED.labels(etype).inc(n)
    elif rows:
        await session.execute(_SAVE_MANY, _save_params(rows))


async def _save(session: AsyncSession, timer_id: str, t: SlaTimer) -> None:
    await _save_many(session, [_save_row(timer_id, t, await db_now(session))])


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


def met_data(row: TimerRow, t: SlaTimer) -> dict[str, Any]:
    """`sla.met`'s data for a completed timer, as `alert_payload(row, t, None, now).model_dump(mode="json")`
    gives it (same keys, order and values; the unit test holds it to `SlaMet`), built without the model: one
    per completion, where the model and its dump were a tenth of a stop's CPU in the service."""
    return _met_data(row, t.ticket_id, t.node, to_jsonable_python(t.deadline), t.policy.policy_version,
                     t.consumed.total_seconds(), bool(t.met_late))


def stored_met_data(row: TimerRow, done: domain.StoredCompletion, policy_version: str) -> dict[str, Any]:
    """`met_data` of a completion in the timer's stored form (`domain.complete_stored`)."""
    return _met_data(row, done.data["ticket_id"], done.data["node"], done.data["deadline"], policy_version,
                     done.consumed.total_seconds(), done.data["met_late"])


def _met_data(row: TimerRow, ticket_id: str, node: str, deadline: str, policy_version: str, elapsed_s: float,
              late: bool) -> dict[str, Any]:
    return {
        "timer_id": row.id, "ticket_id": ticket_id, "ticket_kind": row.ticket_kind,
        "business_type": row.business_type, "node": node, "role": row.role, "assignee": row.assignee,
        "customer_id": row.customer_id, "customer_name": row.customer_name, "customer_tier": row.customer_tier,
        "account_manager_id": row.account_manager_id, "deadline": deadline, "policy_version": policy_version,
        "customer_region": row.customer_region, "elapsed_seconds": elapsed_s, "late": late,
    }


def _met_envelope(source: str, row: TimerRow, data: dict[str, Any]) -> Envelope:
    return Envelope.wrap_data(SlaMet, data, source=source, subject=row.ticket_id, correlation_id=row.correlation_id)


async def record_fired(
    session: AsyncSession, fired: Sequence[tuple[TimerRow, SlaTimer, Action, datetime]], fired_by: str,
    *, met: Sequence[Envelope] = (), met_at: datetime | None = None,
) -> list[Envelope]:
    """Alert rows for fired actions, and for completions (`met`: `sla.met`, recorded and published), one
    statement. A (timer, action) already recorded is not written again (the unique index): whatever raced us,
    an action is published once. Returns what to publish (`_save_many`, in the timers' own statement): the
    fired actions kept, in firing order, then the completions."""
    rows, envs = [], {}
    for row, t, action, now in fired:
        env = _envelope(session, row, alert_payload(row, t, action, now))
        envs[env.id] = env
        rows.append({
            "event_id": env.id, "event_type": env.type, "timer_id": row.id, "action": action.key,
            "ticket_id": t.ticket_id, "due_at": action.due_at, "fired_at": now, "fired_by": fired_by,
            "data": _json(env.data),
        })
        metrics.FIRE_LATENESS.observe(max(0.0, (now - action.due_at).total_seconds()))
    if met:
        if met_at is None:
            raise ValueError("met_at: the database's time of the completions is required with them")
        rows.extend(_feed_row(e.id, e.type, e.data["timer_id"], "met", e.subject, e.data, met_at, fired_by)
                    for e in met)
    if not rows:
        return []
    kept = set((await session.execute(_INSERT_ALERTS, _rows_param("alerts", rows, _ALERTS_TEXTS))).scalars().all())
    published = [e for i, e in envs.items() if i in kept]  # in firing order
    if len(published) < len(envs):
        log.warning("%d alert(s) were already recorded; not published again", len(envs) - len(published))
    return [*published, *met]


# --------------------------------------------------------------------------- ticket events



async def start_timers(
    session: AsyncSession, catalog: PolicyCatalog, entries: Sequence[tuple[TicketNodeEntered, str | None]],
    recorded_by: str = "sla",
) -> int:
    """Start each entered node's timer under the active policy, in one statement with their feed records;
    returns how many started. A replayed entry (same ticket, node and time) or an entry while the node's
    timer is still open starts nothing (the unique indexes: ON CONFLICT DO NOTHING). The tier is the
    customer's at the entry (`tiers.effective_tiers`: a re-grading the CRM reported before the entry
    wins over the ticket's copy), and the row records the tier the timer runs under."""
    version = await policies.active_version_for_txn(session)
    if version is None:
        log.error("no active SLA policy; %d node entries get no timer", len(entries))
        metrics.TIMERS_UNMATCHED.inc(len(entries))
        return 0
    rows = []
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
        t = domain.start_stored(entered.ticket_id, entered.node, await catalog.resolved(session, version, rule_id),
                                entered.entered_at)
        row = {
            "id": new_id("tmr"), "ticket_id": entered.ticket_id, "node": entered.node,
            "ticket_kind": entered.ticket_kind, "business_type": entered.business_type, "role": entered.role,
            "assignee": entered.assignee, "customer_id": entered.customer_id, "customer_name": entered.customer_name,
            "customer_tier": tier, "customer_region": entered.customer_region,
            "account_manager_id": entered.account_manager_id,
            "policy_version": version, "rule_id": rule_id, "started_at": t["started_at"],
            "correlation_id": correlation_id, **stored_columns(t),
        }
        row.update({name: row[key] for key, name in _FEED_TIMES.items()})  # the feed's times (`_feed_data`)
        rows.append(row)
    if not rows:
        return 0
    started = len((await session.execute(_START, {
        **_rows_param("starts", rows, _START_TEXTS), _param("event_type"): TIMER_STARTED,
        _param("recorded_by"): recorded_by,
    })).scalars().all())
    metrics.TIMERS_STARTED.labels(version).inc(started)
    if started < len(rows):
        metrics.TRANSITIONS_IGNORED.labels("node_already_timed").inc(len(rows) - started)
    return started


async def complete_timers(
    session: AsyncSession, catalog: PolicyCatalog, completions: Sequence[TicketNodeCompleted], fired_by: str
) -> None:
    """Stop each node's open timer: `sla.met` (late or not), after any action that was already due.
    The rows are locked and written with a few statements for the whole list, in its order: the lock
    (an index probe per pair, pairs in sorted order), the alert rows, the update with the outbox rows."""
    pairs = sorted({(c.ticket_id, c.node) for c in completions})  # locked in this order
    rows = _rows(await session.execute(
        _LOCK_OPEN, {_param("ticket_ids"): [p[0] for p in pairs], _param("nodes"): [p[1] for p in pairs]}))
    open_rows = {(r.ticket_id, r.node): r for r in rows}  # at most one open timer per (ticket, node)
    now = await db_now(session)
    source = binding_of(session).source
    fired: list[tuple[TimerRow, SlaTimer, Action, datetime]] = []
    met: list[Envelope] = []
    saves: list[dict[str, Any]] = []
    for c in completions:
        row = open_rows.pop((c.ticket_id, c.node), None)  # completed now: no longer open
        if row is None:
            metrics.TRANSITIONS_IGNORED.labels("no_open_timer").inc()
            continue
        policy = await catalog.resolved(session, row.policy_version, row.rule_id)
        # Nothing due by the completion (the common case): completed in the timer's stored form.
        stored = domain.complete_stored(from_json(row.state_data), policy, c.completed_at)
        if stored is not None:
            if stored.clamped:  # applied at the last event's time, which the stored form now holds
                _clamped(c, stored.data["last_event_at"])
            met.append(_met_envelope(source, row, stored_met_data(row, stored, policy.policy_version)))
            saves.append({"id": row.id, **stored_columns(stored.data, stored.consumed), "updated_at": now})
            continue
        try:
            # Actions due before the completion happened even if the scanner has not got to them.
            t, actions = domain.fire_due(await load_timer(session, catalog, row), c.completed_at)
            if domain.completion_clamped(t, c.completed_at):
                _clamped(c, t.last_event_at)
            done = domain.complete(t, c.completed_at)
        except IllegalTransition as exc:
            _ignored(exc)
            continue
        fired.extend((row, t, a, now) for a in actions)
        met.append(_met_envelope(source, row, met_data(row, done)))
        saves.append(_save_row(row.id, done, now))
    # The fired actions' alert rows first (those already recorded are not published again), then the timers, the
    # events and the completions' alert rows (after the fired ones, as before) in one statement.
    published = await record_fired(session, fired, fired_by)
    await _save_many(session, saves, [*published, *met], met_at=now, recorded_by=fired_by)


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
                  {**_context(row, t), "cancelled_at": t.cancelled_at}, now, recorded_by)
        for row, t in cancelled])
    return n


def _feed_row(event_id: uuid.UUID, event_type: str, timer_id: str, action: str, ticket_id: str,
              data: dict[str, Any], at: datetime, by: str) -> dict[str, Any]:
    return {"event_id": event_id, "event_type": event_type, "timer_id": timer_id, "action": action,
            "ticket_id": ticket_id, "due_at": None, "fired_at": at, "fired_by": by, "data": _json(data)}


async def _record_feed(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Records for the live feed only (one statement); a replay is refused by `(timer_id, action)`."""
    if rows:
        await session.execute(_INSERT_ALERTS, _rows_param("alerts", rows, _ALERTS_TEXTS))


def _clamped(c: TicketNodeCompleted, last_event_at: datetime) -> None:
    metrics.COMPLETIONS_CLAMPED.inc()
    log.warning("timer %s/%s: completion at %s is before its last event at %s: applied at that time",
                c.ticket_id, c.node, c.completed_at.isoformat(), last_event_at.isoformat())


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
    rows = _rows(await session.execute(_CLAIM_DUE, {"now": now, "batch_size": batch_size}))
    if not rows:
        return 0
    fired: list[tuple[TimerRow, SlaTimer, Action, datetime]] = []
    updates: list[dict[str, Any]] = []
    for row in rows:
        at = now  # the database's clock, as the claim's (the scanner reads it per pass)
        new, actions = domain.fire_due(await load_timer(session, catalog, row), at)
        fired.extend((row, new, a, at) for a in actions)
        updates.append(_save_row(row.id, new, at))
    await _save_many(session, updates, await record_fired(session, fired, fired_by))
    return len(rows)
