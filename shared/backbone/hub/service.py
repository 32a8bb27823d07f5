"""The hub's use cases (no HTTP): register, read, unregister, list deliveries, redeliver.

They raise `backbone.errors` kinds; the router maps nothing itself (the app's error handlers do).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.errors import Conflict, Invalid, NotFound
from backbone.hub.delivery import wake_after_commit
from backbone.hub.model import ACTIVE, DELIVERY_STATES, PENDING, HubTables, parse_query
from backbone.hub.ssrf import CallbackPolicy, check_callback
from backbone.ids import new_id


@dataclass(frozen=True)
class HubApi:
    """One hub a service offers: the TMF API it belongs to, its path base and the events it sends."""

    api: str  # e.g. "productOrderingManagement/v4"
    base: str  # e.g. "/tmf-api/productOrderingManagement/v4"
    event_types: frozenset[str]
    tables: HubTables


class SubscriptionNotFound(NotFound):
    code = "subscription_not_found"


async def register(session: AsyncSession, hub: HubApi, policy: CallbackPolicy, *, callback: str,
                   query: str | None, secret: str | None, actor: str | None) -> tuple[Any, str]:
    """A new active subscription; returns its row and its secret (told to the caller once)."""
    callback = callback.strip()
    await check_callback(callback, policy)
    parse_query(query, event_types=hub.event_types)
    secret = secret or secrets.token_urlsafe(32)
    s = hub.tables.subscription
    row = (await session.execute(s.insert().values(
        id=new_id("hub"), api=hub.api, callback=callback, query=query or None, secret=secret, state=ACTIVE,
        created_by=actor).returning(*s.c))).one()
    return row, secret


async def subscription(session: AsyncSession, hub: HubApi, subscription_id: str) -> Any:
    s = hub.tables.subscription
    row = (await session.execute(select(s).where(s.c.id == subscription_id, s.c.api == hub.api))).first()
    if row is None:
        raise SubscriptionNotFound(f"no hub subscription {subscription_id}", field="id")
    return row


async def unregister(session: AsyncSession, hub: HubApi, subscription_id: str) -> None:
    """Delete the subscription and its queue (pending deliveries are dropped)."""
    await subscription(session, hub, subscription_id)
    s = hub.tables.subscription
    await session.execute(delete(s).where(s.c.id == subscription_id))


async def deliveries(session: AsyncSession, hub: HubApi, subscription_id: str, *, offset: int, limit: int,
                     status: str | None) -> tuple[list[Any], int]:
    """One page of a subscription's deliveries, oldest first, and how many there are in all."""
    await subscription(session, hub, subscription_id)
    if status is not None and status not in DELIVERY_STATES:
        raise Invalid(f"status must be one of {', '.join(DELIVERY_STATES)}", field="status")
    d = hub.tables.delivery
    where = [d.c.subscription_id == subscription_id]
    if status is not None:
        where.append(d.c.status == status)
    total = int((await session.execute(select(func.count()).select_from(d).where(*where))).scalar_one())
    rows = (await session.execute(select(d).where(*where).order_by(d.c.id).offset(offset).limit(limit))).all()
    return list(rows), total


async def redeliver(session: AsyncSession, hub: HubApi, subscription_id: str, delivery_id: int) -> Any:
    """Queue a delivery again (same event id, same body), due now, with a fresh retry window."""
    sub = await subscription(session, hub, subscription_id)
    if sub.state != ACTIVE:
        raise Conflict(f"subscription {subscription_id} is {sub.state}: nothing is delivered to it", field="id")
    d = hub.tables.delivery
    now = datetime.now(UTC)
    row = (await session.execute(update(d).where(d.c.id == delivery_id, d.c.subscription_id == subscription_id)
                                 .values(status=PENDING, attempts=0, queued_at=now, next_attempt_at=now,
                                         finished_at=None, last_error=None).returning(*d.c))).first()
    if row is None:
        raise NotFound(f"no delivery {delivery_id} of subscription {subscription_id}", field="deliveryId")
    wake_after_commit(session, hub.tables)
    return row
