"""`typed_parser`: a run's records of known types parsed with their payload in one pass, everything else (other
types, broken payloads, broken envelopes) exactly as `parse_envelope` parses it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backbone.consumer import typed_parser
from backbone.envelope import Envelope, MalformedEvent, parse_envelope
from backbone.events import TicketNodeCompleted, TicketNodeEntered

ENTERED, COMPLETED = "eoms.ticket.node_entered", "eoms.ticket.node_completed"
parse = typed_parser({ENTERED: TicketNodeEntered, COMPLETED: TicketNodeCompleted})


def _context(ticket_id: str) -> dict[str, object]:
    return {
        "ticket_id": ticket_id, "ticket_kind": "resource_confirmation", "business_type": "dedicated_line_data.opening",
        "origin": "order", "origin_id": "ord_1", "customer_id": "cus_1", "customer_name": "Ada",
        "customer_tier": "B", "account_manager_id": "am_1", "workflow_id": "dedicated_line_data.opening",
        "workflow_version": 1, "node": "resource_check", "role": "network_resource",
    }


def _raw(payload: TicketNodeEntered | TicketNodeCompleted, correlation_id: str | None = "corr-1") -> bytes:
    return Envelope.wrap(payload, source="eoms-bridge", subject=payload.ticket_id,
                         correlation_id=correlation_id).to_bytes()


@settings(max_examples=50, deadline=None)
@given(ticket=st.from_regex(r"tkt_[a-z0-9]{1,12}", fullmatch=True), completed=st.booleans(),
       correlation=st.none() | st.text(min_size=1, max_size=20),
       at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_a_known_type_is_the_envelope_parse_envelope_gives_with_its_payload(
    ticket: str, completed: bool, correlation: str | None, at: datetime,
) -> None:
    payload = (TicketNodeCompleted(**_context(ticket), outcome="available", completed_at=at) if completed
               else TicketNodeEntered(**_context(ticket), entered_at=at))
    raw = _raw(payload, correlation)
    typed, general = parse(raw), parse_envelope(raw)
    assert isinstance(typed.data, type(payload))
    assert typed.payload(type(payload)) is typed.data  # handed back as it is
    assert typed.payload(type(payload)) == general.payload(type(payload)) == payload
    for field in ("id", "type", "source", "time", "subject", "schema_version", "correlation_id"):
        assert getattr(typed, field) == getattr(general, field)
    assert typed.model_dump(mode="json") == general.model_dump(mode="json")


def test_another_type_is_parsed_as_before() -> None:
    raw = Envelope(type="eoms.ticket.state_changed", source="eoms-bridge", subject="tkt_1",
                   data={"ticket_id": "tkt_1", "to_state": "pending"}).to_bytes()
    env = parse(raw)
    assert type(env) is Envelope and env == parse_envelope(raw)


def test_a_broken_payload_of_a_known_type_fails_in_payload_as_before() -> None:
    raw = _raw(TicketNodeEntered(**_context("tkt_1"), entered_at=datetime.now(UTC))).replace(
        b'"node":"resource_check"', b'"node":5')
    env = parse(raw)
    assert type(env) is Envelope and env == parse_envelope(raw)
    with pytest.raises(MalformedEvent) as typed_err:
        env.payload(TicketNodeEntered)
    with pytest.raises(MalformedEvent) as general_err:
        parse_envelope(raw).payload(TicketNodeEntered)
    assert typed_err.value.reason == general_err.value.reason


@pytest.mark.parametrize("raw", [None, b"", b"not json", b"[]", b'{"type": "eoms.ticket.node_entered"}',
                                 b'{"id": "x", "type": "eoms.ticket.node_entered", "source": "s", "subject": "t"}'])
def test_a_broken_envelope_is_malformed_with_the_same_reason(raw: bytes | None) -> None:
    with pytest.raises(MalformedEvent) as typed_err:
        parse(raw)
    with pytest.raises(MalformedEvent) as general_err:
        parse_envelope(raw)
    assert typed_err.value.reason == general_err.value.reason


def test_no_types_is_parse_envelope() -> None:
    assert typed_parser({}) is parse_envelope
