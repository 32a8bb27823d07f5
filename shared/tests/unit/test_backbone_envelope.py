from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backbone.envelope import Envelope, MalformedEvent, parse_envelope
from backbone.events import OrderCancelled, event_type_of, payload_class, registry, topic_of


def test_wrap_takes_type_version_and_correlation_from_the_registry_and_context():
    from backbone.correlation import reset_correlation_id, set_correlation_id

    token = set_correlation_id("corr-1")
    try:
        env = Envelope.wrap(OrderCancelled(order_id="o1", customer_id="c1", reason="r", cancelled_at=datetime.now(UTC)),
                            source="crm", subject="o1")
    finally:
        reset_correlation_id(token)
    assert (env.type, env.schema_version, env.correlation_id, env.subject) == ("crm.order.cancelled", 1, "corr-1", "o1")
    assert parse_envelope(env.to_bytes()) == env


def test_unknown_envelope_fields_and_payload_fields_are_tolerated():
    env = Envelope(type="crm.order.cancelled", source="crm", subject="o1",
                   data={"order_id": "o1", "customer_id": "c", "reason": "r", "cancelled_at": "2026-01-01T00:00:00Z",
                         "new_field": 1})
    wire = json.loads(env.to_bytes())
    wire["specversion"] = "1.0"
    parsed = parse_envelope(json.dumps(wire).encode())
    assert parsed.payload(OrderCancelled).order_id == "o1"


@pytest.mark.parametrize(("raw", "reason"), [
    (b"\xff\xfe", "not JSON"),
    (b"{not json", "not JSON"),
    (b"", "not JSON"),
    (b"[1,2]", "envelope is not a JSON object"),
    (b"null", "envelope is not a JSON object"),
    (b'{"type": 3, "source": "s", "subject": "a"}', "envelope.type"),
    (b'{"type":"x.y","source":"s"}', "envelope.subject"),
    (b'{"type":"NOT A TYPE","source":"s","subject":"a"}', "envelope.type"),
    (None, "empty message"),
])
def test_malformed_envelopes_say_what_is_wrong(raw, reason):
    with pytest.raises(MalformedEvent) as exc:
        parse_envelope(raw)
    assert reason in exc.value.reason


def test_a_payload_breaking_its_schema_names_the_field():
    env = Envelope(type="crm.order.cancelled", source="crm", subject="o1", data={"order_id": "o1"})
    with pytest.raises(MalformedEvent, match=r"data\.customer_id: Field required"):
        env.payload(OrderCancelled)


def test_every_registered_event_has_a_topic_and_round_trips():
    for etype, (cls, version, topic) in registry().items():
        assert payload_class(etype) is cls and event_type_of(cls) == (etype, version) and topic_of(etype) == topic
        assert topic.count(".") == 1


@given(st.text(min_size=1, max_size=40), st.text(max_size=200))
def test_any_subject_and_reason_survive_the_wire(subject, reason):
    env = Envelope.wrap(OrderCancelled(order_id=subject, customer_id="c", reason=reason,
                                       cancelled_at=datetime(2026, 1, 1, tzinfo=UTC)),
                        source="crm", subject=subject, event_id=uuid.UUID(int=1))
    assert parse_envelope(env.to_bytes()).payload(OrderCancelled).reason == reason
