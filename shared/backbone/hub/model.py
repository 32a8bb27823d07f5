"""The hub's tables, the event it fans out, and the TMF `query` of a registration.

Each service that offers a TMF hub keeps two tables in its own schema (`hub_tables(metadata)`):

- `hub_subscription`: one row per registered listener: the API it registered on (a service may offer
  several hubs, e.g. productOrderingManagement and troubleTicket), the callback URL, the TMF `query`,
  the secret its callbacks are signed with, its state (`active`, `unsubscribed` after a 410);
- `hub_delivery`: the durable per-subscriber queue: one row per (subscription, TMF event), unique on
  that pair, so a redelivered source event never queues twice. `id` is the queue order: a row is
  deliverable only when no earlier pending row of the same subscription and entity exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from backbone.db import Id, timestamp
from backbone.errors import Invalid

#: Subscription states.
ACTIVE = "active"
UNSUBSCRIBED = "unsubscribed"  # the listener answered 410 Gone

#: Delivery states.
PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"  # retried for the whole retry window (24 h by default) without a 2xx
CANCELLED = "cancelled"  # its subscription ended (410) before it was delivered
DELIVERY_STATES = (PENDING, DELIVERED, FAILED, CANCELLED)

#: The namespace of the hub's event ids: uuid5(namespace, "<source event id>:<TMF event type>").
EVENT_ID_NAMESPACE = uuid.UUID("6f1d3a52-8c4e-4b7a-9d2f-1e5c7b9a0d34")


@dataclass(frozen=True)
class HubTables:
    subscription: sa.Table
    delivery: sa.Table


def hub_tables(metadata: sa.MetaData) -> HubTables:
    """The hub's two tables in the metadata's schema."""
    schema = metadata.schema
    subscription = sa.Table(
        "hub_subscription",
        metadata,
        sa.Column("id", Id, primary_key=True),
        sa.Column("api", sa.String(80), nullable=False),  # e.g. productOrderingManagement/v4
        sa.Column("callback", sa.Text, nullable=False),
        sa.Column("query", sa.Text, nullable=True),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False, server_default=ACTIVE),
        sa.Column("created_by", sa.String(200), nullable=True),
        timestamp("created_at", default_now=True),
        timestamp("ended_at", nullable=True),
        sa.Column("ended_reason", sa.Text, nullable=True),
        sa.Index(f"ix_{schema}_hub_subscription_api", "api", "state"),
    )
    delivery = sa.Table(
        "hub_delivery",
        metadata,
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("subscription_id", Id, sa.ForeignKey(f"{schema}.hub_subscription.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("entity_id", sa.String(100), nullable=False),
        sa.Column("source_event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("body", sa.Text, nullable=False),  # the exact JSON bytes every attempt sends (and signs)
        sa.Column("status", sa.String(12), nullable=False, server_default=PENDING),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        timestamp("created_at", default_now=True),
        timestamp("queued_at", default_now=True),  # the retry window runs from here (a redelivery resets it)
        timestamp("next_attempt_at", default_now=True),
        timestamp("finished_at", nullable=True),  # delivered, failed or cancelled (retention counts from here)
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.UniqueConstraint("subscription_id", "event_id", name=f"uq_{schema}_hub_delivery_event"),
        sa.Index(f"ix_{schema}_hub_delivery_due", "next_attempt_at", postgresql_where=sa.text("status = 'pending'")),
        sa.Index(f"ix_{schema}_hub_delivery_entity", "subscription_id", "entity_id", "id",
                 postgresql_where=sa.text("status = 'pending'")),
        sa.Index(f"ix_{schema}_hub_delivery_subscription", "subscription_id", "id"),
    )
    return HubTables(subscription, delivery)


def hub_event_id(source_event_id: uuid.UUID | str, event_type: str) -> uuid.UUID:
    """The TMF eventId of one TMF event made from one source event: the same on every redelivery."""
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{source_event_id}:{event_type}")


@dataclass(frozen=True)
class HubEvent:
    """One TMF event to fan out: its body (the spec's /listener shape) and what a `query` can filter on."""

    event_id: uuid.UUID
    event_type: str
    entity_id: str
    source_event_id: uuid.UUID
    body: dict[str, Any]
    #: flat attributes a query may name besides eventType, e.g. {"productOrder.state": "completed"}
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HubQuery:
    """A registration's TMF `query`: `eventType=a,b&productOrder.state=completed` (values OR, keys AND).

    A key may carry the spec's `event.` prefix (`event.productOrder.state`). No query: every event.
    """

    event_types: frozenset[str] = frozenset()
    filters: tuple[tuple[str, frozenset[str]], ...] = ()

    def matches(self, event: HubEvent) -> bool:
        if self.event_types and event.event_type not in self.event_types:
            return False
        return all(event.attributes.get(key) in values for key, values in self.filters)


def parse_query(query: str | None, *, event_types: frozenset[str] | None = None) -> HubQuery:
    """Parse a registration's query; `Invalid` naming `query` when it cannot be understood.

    With `event_types`, an eventType the hub never sends is refused (a typo would silently match nothing).
    """
    if query is None or not query.strip():
        return HubQuery()
    text = query.strip().lstrip("?")
    types: set[str] = set()
    filters: dict[str, set[str]] = {}
    for part in text.split("&"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key, value = unquote_plus(key).strip(), unquote_plus(value).strip()
        if not sep or not key or not value:
            raise Invalid(f"query: {part!r} is not key=value", field="query")
        values = {v.strip() for v in value.split(",") if v.strip()}
        if not values:
            raise Invalid(f"query: {key} has no value", field="query")
        if key == "eventType":
            types |= values
        else:
            key = key.removeprefix("event.")
            if len(key) > 100:
                raise Invalid("query: a key is longer than 100 characters", field="query")
            filters.setdefault(key, set()).update(values)
    if event_types is not None:
        unknown = sorted(types - event_types)
        if unknown:
            raise Invalid(f"query: unknown eventType {', '.join(unknown)}; this hub sends "
                          f"{', '.join(sorted(event_types))}", field="query")
    return HubQuery(frozenset(types), tuple(sorted((k, frozenset(v)) for k, v in filters.items())))
