"""TMF callbacks counted at the edge in the stack drills: a listener (`tests.support.hub_listener`, a real
HTTP server that checks every signature) registered on the CRM's TMF622 hub for the whole drill, then
matched against the hub's own queue (`crm.hub_delivery` of that subscription), scoped to the drill's
acknowledged orders:

- every acknowledged order → its `productOrderCreateEvent` queued (an order with no row at all: the
  fan-out lost it);
- every queued row → delivered and received by the listener, signature valid (a row still pending, failed,
  or marked delivered but never received: lost);
- each event received once; a second copy of the *same delivery row* is the hub's documented window
  (at least once: a callback whose answer the hub never recorded, e.g. the CRM killed -9 mid-call, is
  sent again when its lease ends), counted apart and flagged; a copy from another row is a duplicate;
- per order and event type (one source stream: the CRM's orders, the SLA's alerts, the bridge's tickets),
  the events received in the order the hub queued them (its delivery ids): any order whose first copies
  of one type arrived out of that order counts as reordered. Across types the hub's order is not an
  order of events: a delivery id is taken at insert, so a consumer run of one source topic that began
  first but committed last has lower ids than rows of another topic delivered before it (counted apart,
  `cross_stream`, not a failure).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from backbone.auth import issue_token
from backbone.settings import DEV_JWT_SECRET
from tests.support.hub_listener import Listener

HUB = "/tmf-api/productOrderingManagement/v4/hub"
CREATE = "productOrderCreateEvent"


@dataclass
class CallbackCounts:
    queued: int = 0
    received: int = 0  # distinct events received (2xx, signature valid)
    missing: int = 0  # queued rows not delivered or never received, orders with no create event queued
    duplicated: int = 0  # copies from another row than the first
    resent: int = 0  # copies of the same row: the hub's at-least-once window (flagged)
    reordered: int = 0  # orders whose events of one type arrived out of the hub's queue order
    cross_stream: int = 0  # orders whose events of different types arrived out of delivery-id order
    bad_signatures: int = 0


class HubTap:
    """The drill's listener on the CRM's TMF622 hub."""

    def __init__(self) -> None:
        self.listener = Listener()
        self.subscription: str | None = None

    async def start(self, crm_url: str) -> None:
        await self.listener.start()
        token = issue_token("drill-integration", ["admin"], secret=DEV_JWT_SECRET)
        async with httpx.AsyncClient(timeout=15) as http:
            r = await http.post(f"{crm_url}{HUB}", json={"callback": self.listener.url},
                                headers={"Authorization": f"Bearer {token}"})
            r.raise_for_status()
            sub = r.json()
        self.subscription, self.listener.secret = sub["id"], sub["secret"]

    async def stop(self) -> None:
        await self.listener.stop()

    async def count(self, conn: AsyncConnection, orders: list[str]) -> CallbackCounts:
        c = CallbackCounts()
        rows = (await conn.execute(text(
            "SELECT id, event_id::text AS event_id, event_type, entity_id, status FROM crm.hub_delivery"
            " WHERE subscription_id = :sub AND entity_id = ANY(:ids) ORDER BY id"),
            {"sub": self.subscription, "ids": orders})).all()
        c.queued = len(rows)
        with_create = {r.entity_id for r in rows if r.event_type == CREATE}
        c.missing += sum(1 for o in orders if o not in with_create)
        got = [cb for cb in self.listener.received if 200 <= cb.status < 300]
        c.bad_signatures = sum(1 for cb in self.listener.received if not cb.signature_ok)
        ours = {r.event_id for r in rows}
        copies = Counter((cb.event_id, cb.headers.get("x-hub-delivery-id", "")) for cb in got if cb.event_id in ours)
        rows_per_event = Counter(event_id for event_id, _ in copies)  # distinct delivery rows that sent it
        c.received = len(rows_per_event)
        c.missing += sum(1 for r in rows if r.status != "delivered" or r.event_id not in rows_per_event)
        c.resent = sum(n - 1 for n in copies.values())
        c.duplicated = sum(n - 1 for n in rows_per_event.values())
        # Per order (and per order and type): the delivery ids of the first copies, in arrival order, ascending.
        first: dict[str, list[tuple[str, int]]] = {}
        seen: set[str] = set()
        row_of = {r.event_id: r for r in rows}
        for cb in got:
            if cb.event_id in seen or cb.event_id not in row_of:
                continue
            seen.add(cb.event_id)
            r = row_of[cb.event_id]
            first.setdefault(r.entity_id, []).append((r.event_type, int(cb.headers.get("x-hub-delivery-id", "0"))))
        for arrived in first.values():
            ids = [i for _, i in arrived]
            per_type = [[i for t, i in arrived if t == kind] for kind in {t for t, _ in arrived}]
            if any(one != sorted(one) for one in per_type):
                c.reordered += 1
            elif ids != sorted(ids):
                c.cross_stream += 1
        return c
