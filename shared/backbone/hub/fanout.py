"""Fan-out: a service's consumer maps each domain event to its TMF events and queues one delivery row
per matching subscription, in the consumer's transaction (with its inbox row).

    handlers = merge_handlers(consumers.HANDLERS, fan_out_handlers(tables, API, {"crm.order.submitted": map_fn}))

A mapper that needs only the event's payload is `from_payload(PayloadModel, to_tmf_event)`.

A redelivered source event maps to the same TMF event ids (`hub_event_id`), and `(subscription_id,
event_id)` is unique: it never queues twice, even past the inbox.

The handlers are `backbone.consumer.Gated` by `subscribed(tables, api)`: while the API has no active
subscription, the consumer lets their events go without a transaction or an inbox row (issue 16: two of the
bridge's three inbox rows per order, and every `crm.order.*` event in the CRM, were claimed for nobody).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Table, and_, exists, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backbone import metrics
from backbone.consumer import Gate, Gated, Handler
from backbone.db import run_direct
from backbone.envelope import Envelope
from backbone.hub.delivery import wake_after_commit
from backbone.hub.model import ACTIVE, HubEvent, HubQuery, HubTables, parse_query
from backbone.versioned import once_per_transaction

#: Maps one source event to its TMF events (none when the event means nothing to a listener).
Mapper = Callable[[AsyncSession, Envelope], Awaitable[Sequence[HubEvent]]]

P = TypeVar("P", bound=BaseModel)


def from_payload(payload: type[P], to_event: Callable[[Envelope, P], HubEvent | None]) -> Mapper:
    """The `Mapper` of a source event whose TMF event is made from its payload alone (no read);
    `to_event` answering `None` maps the event to nothing.

        {"eoms.ticket.created": from_payload(TicketCreated, ticket_created), ...}
    """

    async def mapper(session: AsyncSession, event: Envelope) -> list[HubEvent]:
        mapped = to_event(event, event.payload(payload))
        return [mapped] if mapped is not None else []

    return mapper


def body_bytes(body: Mapping[str, object]) -> str:
    """The one serialization of a TMF event body (stored once, sent and signed as is on every attempt)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, sort_keys=False)


#: A subscription gets the events that occurred after it was registered (less this much: clocks differ).
REGISTRATION_SLACK = timedelta(seconds=5)


@dataclass(frozen=True)
class _Subscriber:
    id: Any
    created_at: datetime
    query: HubQuery


def _active(s: Table, api: str) -> ColumnElement[bool]:
    """The active subscriptions of `api`: the rows `_subscribers` reads and `subscribed` asks about (a `Gated`
    handler is let go only when both would find none)."""
    return and_(s.c.api == api, s.c.state == ACTIVE)


async def _subscribers(session: AsyncSession, tables: HubTables, api: str) -> list[_Subscriber]:
    """The active subscriptions of `api`, read once per transaction: a consumer's run of events (one
    transaction) reads them with its first event, not once per event (two reads per order in the CRM and
    the bridge before). A subscription committed while the run is applied is one registered after the
    run's events occurred: the rule above leaves them out of it anyway (but for the slack)."""
    s = tables.subscription

    async def read() -> list[_Subscriber]:
        result = await session.execute(
            select(s.c.id, s.c.query, s.c.created_at).where(_active(s, api)))
        return [_Subscriber(row.id, row.created_at, parse_query(row.query)) for row in result]

    return await once_per_transaction(session, f"{_SUBSCRIBERS}:{s.fullname}:{api}", read)


#: session.info key of the transaction's subscriptions (`_subscribers`).
_SUBSCRIBERS = "backbone.hub.subscribers"


async def _listeners(session: AsyncSession, tables: HubTables, api: str,
                     occurred_at: datetime | None) -> list[_Subscriber]:
    """The active subscriptions of `api` an event that occurred at `occurred_at` reaches: those registered
    before it (but for `REGISTRATION_SLACK`; every one without `occurred_at`)."""
    return [sub for sub in await _subscribers(session, tables, api)
            if occurred_at is None or sub.created_at <= occurred_at + REGISTRATION_SLACK]


async def fan_out(session: AsyncSession, tables: HubTables, api: str, events: Sequence[HubEvent], *,
                  occurred_at: datetime | None = None) -> int:
    """Queue `events` for every active subscription of `api` whose query matches; returns rows added.

    With `occurred_at` (the source event's time), subscriptions registered later than that (beyond
    `REGISTRATION_SLACK`) are left out: a consumer replaying old events (a new consumer group, a rewind)
    does not flood a new listener with history.
    """
    if not events:
        return 0
    d = tables.delivery
    rows = []
    for sub in await _listeners(session, tables, api, occurred_at):
        for event in events:
            if sub.query.matches(event):
                rows.append({
                    "subscription_id": sub.id, "event_id": event.event_id, "event_type": event.event_type,
                    "entity_id": event.entity_id, "source_event_id": event.source_event_id,
                    "body": body_bytes(event.body),
                })
    added = 0
    if rows:
        result = await session.execute(
            insert(d).on_conflict_do_nothing(constraint=f"uq_{d.schema}_hub_delivery_event").returning(d.c.id), rows)
        added = len(result.all())
        if added:
            wake_after_commit(session, tables)
    for event in events:
        metrics.HUB_EVENTS.labels(d.schema or "", event.event_type).inc()
    return added


def subscribed(tables: HubTables, api: str) -> Gate:
    """The consumer's gate of `api`'s fan-out: is there an active subscription of `api`? Asked after the poll
    that read the events, like `_subscribers` in their transaction: a subscription registered before an event
    occurred is seen (it gets the event, as before), one registered later is one `_listeners` leaves out but for
    `REGISTRATION_SLACK`. An event let go while nobody listened leaves no inbox row: read again (a rebalance
    before its offset's commit) once a subscription exists, it is mapped for it then, as a first read would."""
    s = tables.subscription
    query = select(exists().where(_active(s, api)))

    async def gate(session: AsyncSession) -> bool:  # in autocommit (the consumer's): the driver runs it
        return bool((await run_direct(session, query, {}))[0][0])

    return gate


def fan_out_handlers(tables: HubTables, api: str, mappers: Mapping[str, Mapper]) -> dict[str, Handler]:
    """Consumer handlers (by source event type) that map and fan out into `api`'s subscriptions, gated by
    `subscribed(tables, api)` (one gate for the API's handlers: one read per pass)."""

    def handler_for(mapper: Mapper) -> Handler:
        async def handle(session: AsyncSession, event: Envelope) -> None:
            # Nobody listens to `api` for this event: nothing to map. A mapper's reads are for its listeners
            # (the CRM's order mappers read the order and its items: two statements per order, issue 16).
            if await _listeners(session, tables, api, event.time):
                await fan_out(session, tables, api, await mapper(session, event), occurred_at=event.time)

        return handle

    gate = subscribed(tables, api)
    return {event_type: Gated(handler_for(mapper), (gate,)) for event_type, mapper in mappers.items()}


def merge_handlers(*maps: Mapping[str, Handler]) -> dict[str, Handler]:
    """One handler per event type running every given one in turn, in the one transaction of the inbox row;
    `Gated` when every one is (open when any of their gates is)."""
    merged: dict[str, list[Handler]] = {}
    for m in maps:
        for event_type, handler in m.items():
            merged.setdefault(event_type, []).append(handler)

    def chain(handlers: list[Handler]) -> Handler:
        if len(handlers) == 1:
            return handlers[0]

        async def run_all(session: AsyncSession, event: Envelope) -> None:
            for handler in handlers:
                await handler(session, event)

        gated = [h for h in handlers if isinstance(h, Gated)]
        if len(gated) == len(handlers):
            return Gated(run_all, tuple(dict.fromkeys(g for h in gated for g in h.gates)))
        return run_all

    return {event_type: chain(hs) for event_type, hs in merged.items()}
