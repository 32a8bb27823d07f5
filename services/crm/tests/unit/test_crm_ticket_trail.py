"""The ticket trail's upsert (`crm.consumers._record`): one statement per shape of event, built once, with the event's
values as parameters (the same SQL and values as the statement built per event before, checked when it changed)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy.dialects import postgresql

from crm import consumers


class _Session:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, dict[str, Any]]] = []

    async def execute(self, stmt: Any, params: dict[str, Any]) -> Any:
        self.calls.append((stmt, params))
        return SimpleNamespace(first=lambda: ("ord-1",))


CTX = SimpleNamespace(ticket_id="tk-1", origin="order", origin_id="ord-1", ticket_kind="service_opening",
                      business_type="dedicated_line_data.opening")
EVENT = SimpleNamespace(id=uuid.UUID(int=7), type="eoms.ticket.resolved")
AT = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


async def _upsert(**kw: Any) -> tuple[str, dict[str, Any], Any]:
    session = _Session()
    assert await consumers._record(session, EVENT, CTX, at=AT, **kw)  # type: ignore[arg-type]
    stmt, params = session.calls[1]
    return str(stmt.compile(dialect=postgresql.dialect())), params, stmt  # type: ignore[no-untyped-call]


async def test_the_trail_entry_is_bound_once_and_appended_unless_its_event_was_seen() -> None:
    sql, params, _ = await _upsert(state="resolved", clear_node=True, reason="done")
    entry = {"event_id": str(EVENT.id), "event": EVENT.type, "at": AT.isoformat(), "state": "resolved",
             "reason": "done"}
    assert params["trail"] == [entry] and params["seen"] == [{"event_id": str(EVENT.id)}]
    assert (params["state"], params["node"], params["reason"], params["updated_at"]) == ("resolved", None, "done", AT)
    assert re.search(r"WHEN \(crm\.tickets\.trail @> %\(seen\)s(::JSONB)?\) THEN crm\.tickets\.trail "
                     r"ELSE crm\.tickets\.trail \|\| %\(trail\)s", sql), sql
    assert "node = CASE WHEN (crm.tickets.updated_at <= excluded.updated_at) THEN NULL ELSE crm.tickets.node" in sql


async def test_each_shape_of_event_has_its_statement_built_once() -> None:
    shapes: list[dict[str, Any]] = [{"state": "acknowledged", "node": "a"}, {"node": "b"}, {},
                                    {"state": "x", "clear_node": True}]
    first = [(await _upsert(**kw))[2] for kw in shapes]
    again = [(await _upsert(**kw))[2] for kw in shapes]
    assert all(a is b for a, b in zip(first, again, strict=True))
    assert len({id(s) for s in first}) == len(shapes)
    _, keep_params, _ = await _upsert()
    assert keep_params["state"] == "acknowledged"  # a new ticket's state when the event carries none


async def test_a_network_tickets_events_are_not_the_crms() -> None:
    """A network-originated ticket (TMF621 on the bridge) has no order or complaint here: nothing is read or written."""
    session = _Session()
    network = SimpleNamespace(**{**vars(CTX), "origin": "network", "origin_id": "ALARM-1"})
    assert not await consumers._record(session, EVENT, network, at=AT, node="a")  # type: ignore[arg-type]
    assert session.calls == []
