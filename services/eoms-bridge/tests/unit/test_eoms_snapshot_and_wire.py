"""The JSONB snapshot rehydrates the same Ticket; domain events map onto the suite's wire payloads."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from backbone import events as wire
from backbone.envelope import Envelope
from backbone.vocabulary import NodeRole as Role
from eoms_bridge.domain.routing import initial_tickets
from eoms_bridge.domain.ticket import Actor, Ticket
from eoms_bridge.domain.workflow import WorkflowCatalog
from eoms_bridge.services.snapshot import from_snapshot, to_snapshot
from eoms_bridge.services.tickets import Origin, wire_data, wire_events

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
CRM = Actor.system("crm")
NS = Actor.person("ns_li", Role.NETWORK_STAFF, Role.NETWORK_RESOURCE)  # each node role held, no catch-all
SUP = Actor.person("sup_wang", Role.SUPERVISOR)
ZHAO = Actor.person("ns_zhao", Role.NETWORK_STAFF, Role.NETWORK_RESOURCE)
ORIGIN = Origin(origin="order", origin_id="ord_1", origin_item_id="itm_1", customer_id="cus_1",
                customer_name="天津港", customer_tier="A", account_manager_id="am_1")


def test_snapshot_round_trip_through_json_keeps_the_ticket(catalog: WorkflowCatalog) -> None:
    wf = catalog.latest("dedicated_line_data.opening")
    t, _ = Ticket.open(ticket_id="tkt_1", workflow=wf, kind="resource_confirmation", subject_id="ord_1", now=T0,
                       actor=CRM, customer_tier="A")
    t.accept(actor=NS, now=T0 + timedelta(minutes=1))
    t.suspend(actor=NS, now=T0 + timedelta(minutes=2), reason="wait")
    t.resume(actor=NS, now=T0 + timedelta(minutes=3))
    t.complete(actor=NS, now=T0 + timedelta(minutes=4), outcome="accepted", data={"note": "ok"})
    t.accept(actor=NS, now=T0 + timedelta(minutes=5))
    t.reassign(actor=SUP, now=T0 + timedelta(minutes=6), to=ZHAO)
    back = from_snapshot(json.loads(json.dumps(to_snapshot(t))), wf)
    assert to_snapshot(back) == to_snapshot(t)
    assert back.history == t.history and back.state is t.state and back.assignee == "ns_zhao"
    # The rehydrated ticket acts like the original.
    ev = back.complete(actor=ZHAO, now=T0 + timedelta(minutes=7),
                       outcome="available")
    assert back.current_node == "confirmation_review" and ev


def test_domain_events_map_to_wire_payloads_with_context(catalog: WorkflowCatalog) -> None:
    wf = catalog.latest("dedicated_line_data.opening")
    t, events = Ticket.open(ticket_id="tkt_2", workflow=wf, kind="resource_confirmation", subject_id="ord_1",
                            now=T0, actor=CRM, customer_tier="A")
    events += t.accept(actor=NS, now=T0)
    events += t.complete(actor=NS, now=T0, outcome="order_incomplete", data={"reason": "no address"})
    out = wire_events(t, ORIGIN, events)
    types = [type(p) for p in out]
    assert types == [wire.TicketCreated, wire.TicketNodeEntered, wire.TicketNodeAssigned, wire.TicketStateChanged,
                     wire.TicketNodeCompleted, wire.TicketStateChanged, wire.TicketResolved]
    created, entered = out[0], out[1]
    assert isinstance(created, wire.TicketCreated) and created.node == "order_acceptance_check"
    assert isinstance(entered, wire.TicketNodeEntered) and entered.role == "network_staff"
    assert entered.customer_tier == "A" and entered.account_manager_id == "am_1" and entered.entered_via == "start"
    done = out[4]
    assert isinstance(done, wire.TicketNodeCompleted) and done.assignee == "ns_li" and done.next_node == "$rejected"
    resolved = out[-1]
    assert isinstance(resolved, wire.TicketResolved) and resolved.resolution == "rejected"
    assert resolved.reason == "no address"


def test_cancel_leaves_the_open_node_for_the_sla_clock(catalog: WorkflowCatalog) -> None:
    wf = catalog.latest("vpmn.opening")
    t, _ = Ticket.open(ticket_id="tkt_3", workflow=wf, kind="resource_confirmation", subject_id="ord_1", now=T0,
                       actor=CRM, customer_tier="B")
    node = t.current_node
    out = wire_events(t, ORIGIN, t.cancel(actor=CRM, now=T0 + timedelta(hours=1), reason="withdrawn"))
    left = [p for p in out if isinstance(p, wire.TicketNodeCompleted)]
    assert len(left) == 1 and left[0].node == node and left[0].outcome == "$cancelled"
    closed = [p for p in out if isinstance(p, wire.TicketClosed)]
    assert closed[0].final_state == "cancelled" and closed[0].reason == "withdrawn"


def test_wire_data_is_what_the_models_dump(catalog: WorkflowCatalog) -> None:
    """The opening events built as their JSON form (`wire_data`, the consumer's hot path) are the models' dumps, and
    make the same envelope bytes: every workflow's initial tickets, times with and without microseconds, with and
    without a region; later events (through the models) too."""
    regional = replace(ORIGIN, customer_region="天津-西青区", description="专线 \"quoted\"", severity="major")
    n = 0
    for wf in catalog:
        for kind in initial_tickets(wf):
            for now in (T0, T0 + timedelta(microseconds=123456), datetime(2026, 12, 3, 0, 1, 2, 1, tzinfo=UTC)):
                for origin in (ORIGIN, regional):
                    t, events = Ticket.open(ticket_id=f"tkt_{n}", workflow=wf, kind=kind, subject_id="ord_1",
                                            now=now, actor=CRM, customer_tier="B")
                    events += t.accept(actor=Actor.person("sup_wang", Role.SUPERVISOR), now=now)
                    models = wire_events(t, origin, events)
                    data = wire_data(t, origin, events)
                    assert [k for k, _ in data] == [type(m) for m in models]
                    assert [d for _, d in data] == [m.model_dump(mode="json") for m in models]
                    for m, (k, d) in zip(models, data, strict=True):
                        eid = uuid.uuid4()
                        a = Envelope.wrap_data(k, d, source="eoms-bridge", subject=t.id, event_id=eid,
                                               correlation_id="c")
                        b = Envelope.wrap(m, source="eoms-bridge", subject=t.id, event_id=eid, correlation_id="c")
                        assert a.model_copy(update={"time": b.time}).to_bytes() == b.to_bytes()
                    n += 1
    assert n > 20
