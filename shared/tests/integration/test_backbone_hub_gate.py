"""The hub's fan-out handlers are `backbone.consumer.Gated` (`backbone.hub.fanout.subscribed`), on real
PostgreSQL and Kafka: while the API has no active subscription, a consumer lets their events go with no
transaction and no inbox row (a run's and a single event's), an event type that also has a handler of its own
is claimed and applied as before, and once a subscription is registered the next events are claimed and queued
for it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import MetaData, func, insert, select

from backbone import metrics
from backbone.consumer import ConsumerRunner, Gated, RetryPolicy
from backbone.db import make_session_factory
from backbone.envelope import Envelope
from backbone.events import OrderCancelled
from backbone.hub.fanout import fan_out_handlers, from_payload, merge_handlers
from backbone.hub.model import HubEvent, hub_event_id, hub_tables
from backbone.kafka import Producer
from tests.support.kafka_tools import eventually
from tests.support.scratch import consumer_running, consumer_scratch, effect_recorder

pytestmark = pytest.mark.asyncio(loop_scope="session")

API = "productOrderingManagement/v4"
GATED, MIXED = "crm.order.cancelled", "crm.order.discarded"


def _to_hub(envelope: Envelope, c: OrderCancelled) -> HubEvent:
    return HubEvent(hub_event_id(envelope.id, "ProductOrderStateChangeEvent"), "ProductOrderStateChangeEvent",
                    c.order_id, envelope.id, {"eventType": "ProductOrderStateChangeEvent", "id": c.order_id})


def _unwanted(group: str, etype: str) -> float:
    return float(metrics.EVENTS_CONSUMED.labels(group, etype, "unwanted")._value.get())


async def test_a_fan_out_nobody_subscribes_to_claims_nothing_until_a_subscription_exists(infra):
    schema = f"bb_gate_{uuid.uuid4().hex[:8]}"
    engine, effects, inbox, topic = await consumer_scratch(infra, schema)
    tables = hub_tables(MetaData(schema=schema))
    async with engine.begin() as conn:
        await conn.run_sync(tables.subscription.metadata.create_all)
    sf = make_session_factory(engine)
    producer = Producer(infra.kafka_bootstrap)
    await producer.start()

    record = effect_recorder(effects)
    mappers = {GATED: from_payload(OrderCancelled, _to_hub), MIXED: from_payload(OrderCancelled, _to_hub)}
    handlers = merge_handlers({MIXED: record}, fan_out_handlers(tables, API, mappers))
    assert isinstance(handlers[GATED], Gated) and not isinstance(handlers[MIXED], Gated)
    runner = ConsumerRunner(name=schema, bootstrap=infra.kafka_bootstrap, topics=[topic], group_id=schema,
                            handlers=handlers, session_factory=sf, inbox=inbox, producer=producer,
                            retry=RetryPolicy(max_attempts=2, initial_s=0.05))

    def event(etype: str, n: int) -> bytes:
        c = OrderCancelled(order_id="o1", customer_id="c1", reason=f"#{n}", cancelled_at=datetime.now(UTC))
        return Envelope(type=etype, source="test", subject="o1", data=c.model_dump(mode="json")).to_bytes()

    async def count(table) -> int:
        async with sf() as s:
            return int((await s.execute(select(func.count()).select_from(table))).scalar_one())

    async def unwanted_at_least(n: float) -> bool:
        return _unwanted(schema, GATED) >= n

    async def at_least(table, n: int) -> bool:
        return await count(table) >= n

    async with consumer_running(engine, schema, runner, producer):
        # A run: two gated events and one of a type with a handler of its own (the fan-out in it maps nothing).
        for n, etype in enumerate((GATED, GATED)):
            await producer.send(topic, event(etype, n), key=b"o1")
        await producer.send_and_wait(topic, event(MIXED, 2), key=b"o1")
        await eventually(lambda: at_least(effects, 1), what="the mixed event applied")
        await eventually(lambda: unwanted_at_least(2), what="the gated events let go")
        # A single gated event (its own pass).
        await producer.send_and_wait(topic, event(GATED, 3), key=b"o1")
        await eventually(lambda: unwanted_at_least(3), what="a single gated event let go")
        assert await count(inbox) == 1  # the mixed event's row alone
        assert await count(tables.delivery) == 0

        async with sf() as session, session.begin():
            await session.execute(insert(tables.subscription).values(
                id="s1", api=API, callback="http://127.0.0.1:9/cb", secret="x"))
        await producer.send(topic, event(GATED, 4), key=b"o1")
        await producer.send_and_wait(topic, event(GATED, 5), key=b"o1")
        await eventually(lambda: at_least(tables.delivery, 2), what="the subscription's two events queued")
        assert _unwanted(schema, GATED) == 3
        assert await count(inbox) == 3
        async with sf() as s:
            reasons = (await s.execute(select(tables.delivery.c.body).order_by(tables.delivery.c.id))).scalars().all()
        assert len(reasons) == 2
