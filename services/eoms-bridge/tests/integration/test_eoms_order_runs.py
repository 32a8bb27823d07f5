"""A run of submitted orders applied set-based (the consumer's `apply_run`, issue 16) on real PostgreSQL:
the same tickets, history and events as one order at a time, each event with its order's correlation id;
an order submitted twice in one run opens its tickets once; an event of another type in the run is
applied in partition order through its handler; a least-loaded dispatch in a run counts the run's tickets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from backbone.envelope import Envelope, parse_envelope
from backbone.events import OrderCancelled, OrderItem, OrderSubmitted
from backbone.ids import new_id
from eoms_bridge import consumers
from eoms_bridge.domain.dispatch import DispatchRule, Roster, Strategy, choose
from eoms_bridge.main import build_app
from eoms_bridge.models import dispatch_cursors, ticket_history, tickets
from eoms_bridge.services import assignment
from eoms_bridge.services import tickets as ticket_service
from eoms_bridge.settings import EomsSettings

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def runtime(infra: Any) -> AsyncIterator[Any]:
    settings = EomsSettings(
        database_url=infra.database_url, kafka_bootstrap_servers=infra.kafka_bootstrap, environment="test",
        consumer_group=f"eoms-runs-{new_id('t')}", run_consumers=False)
    app = build_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://eoms-bridge"):
        yield app.state.runtime


def submitted(order_id: str, n_items: int = 1) -> OrderSubmitted:
    return OrderSubmitted(
        order_id=order_id, channel="account_manager", submitted_at=datetime.now(UTC), customer_id="cus_runs",
        customer_name="批量客户", customer_tier="A", account_manager_id="am_runs", customer_region="天津-西青区",
        items=[OrderItem(item_id=f"{order_id}-i{i}", product="dedicated_line_data", business_kind="opening",
                         business_type="dedicated_line_data.opening", attributes={"bandwidth_mbps": 100})
               for i in range(n_items)])


def envelope(payload: Any, subject: str) -> Envelope:
    return Envelope.wrap(payload, source="crm", subject=subject, correlation_id=f"corr-{new_id('c')}")


async def opened(runtime: Any, order_ids: list[str]) -> dict[str, Any]:
    """Per order: its tickets (kind, state, node, severity), their history and their events (type, correlation)."""
    outbox = runtime.infra.outbox
    async with runtime.session_factory() as s:
        rows = (await s.execute(select(tickets).where(tickets.c.origin_id.in_(order_ids)))).all()
        by_ticket = {r.id: r.origin_id for r in rows}
        hist = (await s.execute(select(ticket_history.c.ticket_id, ticket_history.c.event_type)
                                .where(ticket_history.c.ticket_id.in_(list(by_ticket)))
                                .order_by(ticket_history.c.id))).all()
        events = [parse_envelope(p) for p in (await s.execute(
            select(outbox.c.payload).where(outbox.c.key.in_(list(by_ticket))).order_by(outbox.c.seq))).scalars()]
    out: dict[str, Any] = {o: {"tickets": [], "history": [], "events": []} for o in order_ids}
    for r in rows:
        out[r.origin_id]["tickets"].append((r.origin_item_id.rsplit("-", 1)[1], r.kind, r.state, r.current_node,
                                            r.severity, r.customer_region))
    for h in hist:
        out[by_ticket[h.ticket_id]]["history"].append(h.event_type)
    for e in events:
        out[by_ticket[e.subject]]["events"].append((e.type, e.correlation_id, e.data["origin_id"]))
    return out


async def test_a_run_of_orders_opens_what_one_at_a_time_opens(runtime: Any) -> None:
    ctx = runtime.context
    handlers = consumers.make_handlers(ctx)
    apply = consumers.make_batch_applier(ctx, handlers)
    single = new_id("ord")
    async with runtime.session_factory() as s, s.begin():
        await ticket_service.open_tickets_for_order(s, store=ctx.store, order=submitted(single, 2),
                                                    now=datetime.now(UTC), org=ctx.organisation)
    one = (await opened(runtime, [single]))[single]
    assert len(one["tickets"]) == 2 and one["events"], one

    ids = [new_id("ord") for _ in range(3)]
    run = [envelope(submitted(o, 2), o) for o in ids]
    run.append(envelope(submitted(ids[0], 2), ids[0]))  # the same order again, another event id
    run.append(envelope(OrderCancelled(order_id=ids[2], customer_id="cus_runs", reason="撤单",
                                       cancelled_at=datetime.now(UTC)), ids[2]))
    async with runtime.session_factory() as s, s.begin():
        await apply(s, run)
    found = await opened(runtime, ids)
    for n, order_id in enumerate(ids[:2]):
        got = found[order_id]
        assert sorted(got["tickets"]) == sorted(one["tickets"]), (order_id, got["tickets"])
        assert got["history"] == one["history"]
        assert [t for t, _, _ in got["events"]] == [t for t, _, _ in one["events"]]
        assert {(c, o) for _, c, o in got["events"]} == {(run[n].correlation_id, order_id)}, \
            "every event carries its order's correlation id"
    cancelled = found[ids[2]]
    assert {state for _, _, state, _, _, _ in cancelled["tickets"]} == {"cancelled"}, \
        "the cancel after the submit in the same run was applied after it"
    assert cancelled["events"][: len(one["events"])] == [(t, run[2].correlation_id, ids[2])
                                                         for t, _, _ in one["events"]]


async def test_a_run_dispatched_least_loaded_counts_the_tickets_of_the_run(runtime: Any) -> None:
    """A run stores its tickets in one statement each, but a least-loaded dispatch counts the open tickets
    in the table: the run picks exactly who one order at a time would pick (each assigned ticket of the run
    counted by the next pick), from the loads and the round-robin cursor before it."""
    ctx = runtime.context
    people = ["noc_wang", "p-wanglei"]
    org = ctx.organisation.model_copy(update={
        "dispatch": (DispatchRule(role="network_staff", strategy=Strategy.LEAST_LOADED),),
        "rosters": (*ctx.organisation.rosters, Roster.model_validate(
            {"role": "network_staff", "regions": ["*"],
             "shifts": [{"days": "mon-sun", "hours": "00:00-00:00", "people": people}]})),
    })
    async with runtime.session_factory() as s:
        load = await assignment.open_tasks(s, people)
        last = (await s.execute(select(dispatch_cursors.c.last_assignee).where(
            dispatch_cursors.c.role == "network_staff", dispatch_cursors.c.region == "天津-西青区"))).scalar()
    ids = [new_id("ord") for _ in range(5)]
    async with runtime.session_factory() as s, s.begin():
        await ticket_service.open_tickets_for_orders(
            s, store=ctx.store, orders=[(submitted(o), None) for o in ids], now=datetime.now(UTC), org=org)
    async with runtime.session_factory() as s:
        got = dict((await s.execute(select(tickets.c.origin_id, tickets.c.assignee).where(
            tickets.c.origin_id.in_(ids), tickets.c.current_node == "order_acceptance_check"))).all())
    expected = []
    for _ in ids:
        person = choose(Strategy.LEAST_LOADED, people, last=last, load=load)
        assert person is not None
        expected.append(person)
        load[person] = load.get(person, 0) + 1
        last = person
    assert [got[o] for o in ids] == expected


async def test_an_order_opened_again_later_writes_no_history_and_no_events(runtime: Any) -> None:
    """The tickets, their history and their events go in one statement (`tickets._store`): an order whose tickets
    an earlier transaction opened (a redelivery past the inbox, another consumer group) adds nothing at all."""
    ctx = runtime.context
    order_id = new_id("ord")
    for attempt in range(2):
        async with runtime.session_factory() as s, s.begin():
            again = await ticket_service.open_tickets_for_orders(
                s, store=ctx.store, orders=[(submitted(order_id, 2), None)], now=datetime.now(UTC),
                org=ctx.organisation)
        found = (await opened(runtime, [order_id]))[order_id]
        if attempt == 0:
            first = found
            assert len(again) == 2 and first["history"] and first["events"]
    assert again == [] and found == first
