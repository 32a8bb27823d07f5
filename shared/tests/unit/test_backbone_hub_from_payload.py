"""`backbone.hub.fanout.from_payload`: the mapper of a source event whose TMF event comes from its payload alone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from backbone.envelope import Envelope, MalformedEvent
from backbone.events import TicketResolved
from backbone.hub.fanout import from_payload
from backbone.hub.model import HubEvent, hub_event_id

CTX: dict[str, Any] = dict(
    ticket_id="tkt_1", ticket_kind="complaint_fault", business_type="dedicated_line_data.complaint", origin="network",
    origin_id="ALARM-42", customer_id="cus_1", customer_name="Tianjin Port Group", customer_tier="A",
    account_manager_id="am_1", workflow_id="wf", workflow_version=1)
AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def resolved_event(envelope: Envelope, t: TicketResolved) -> HubEvent | None:
    if t.resolution != "resolved":
        return None  # means nothing to a listener
    return HubEvent(event_id=hub_event_id(envelope.id, "resolved"), event_type="resolved", entity_id=t.ticket_id,
                    source_event_id=envelope.id, body={"ticket": t.ticket_id, "at": t.resolved_at.isoformat()})


MAPPER = from_payload(TicketResolved, resolved_event)


async def test_the_payload_is_read_as_its_model_and_mapped() -> None:
    env = Envelope.wrap(TicketResolved(**CTX, resolution="resolved", resolved_at=AT), source="eoms-bridge",
                        subject="tkt_1")
    (event,) = await MAPPER(None, env)  # type: ignore[arg-type]  # reads nothing: no session needed
    assert event.entity_id == "tkt_1" and event.body == {"ticket": "tkt_1", "at": AT.isoformat()}
    assert event.event_id == hub_event_id(env.id, "resolved")


async def test_none_maps_to_no_event() -> None:
    env = Envelope.wrap(TicketResolved(**CTX, resolution="rejected", resolved_at=AT), source="eoms-bridge",
                        subject="tkt_1")
    assert await MAPPER(None, env) == []  # type: ignore[arg-type]


async def test_a_payload_of_another_shape_is_refused() -> None:
    env = Envelope.wrap(TicketResolved(**CTX, resolution="resolved", resolved_at=AT), source="eoms-bridge",
                        subject="tkt_1").model_copy(update={"data": {"ticket_id": "tkt_1"}})
    with pytest.raises(MalformedEvent):
        await MAPPER(None, env)  # type: ignore[arg-type]
