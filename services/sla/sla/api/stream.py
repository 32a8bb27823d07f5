"""/api/v1/stream: the live feed of warnings, breaches, escalations, completions and timers starting or
being cancelled, as Server-Sent Events.

Every instance serves the same feed: it reads the alert table in commit order (services.feed),
whichever instance fired. Reconnect with `Last-Event-ID` (or `?after=`) to resume without gaps. Each
event's `data` is a `FeedEvent` (its schema is in the OpenAPI document under `text/event-stream`): the
record as written, and the timer as it stands when the event is sent (`services.board.BoardTimer`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from backbone.problems import field_error
from sla.api.deps import ContextDep, ReaderDep, RuntimeDep
from sla.services import board, feed

router = APIRouter(prefix="/api/v1", tags=["stream"])

FeedType = Literal["sla.warning", "sla.breached", "sla.escalated", "sla.met", "sla.timer_started",
                   "sla.timer_cancelled"]


class FeedEvent(BaseModel):
    """The `data:` of one SSE event (its `event:` is `type`, its `id:` the resume cursor)."""

    event_id: str = Field(description="the Kafka envelope id (sla.warning/breached/escalated/met), or the id of "
                                      "a feed-only record (sla.timer_started / sla.timer_cancelled)")
    type: FeedType
    timer_id: str
    ticket_id: str
    fired_at: datetime
    data: dict[str, Any] = Field(description="the payload as recorded: backbone.events AlertContext fields (timer, "
                                             "ticket, node, role, assignee, customer, tier, region, deadline, "
                                             "policy version) and the type's own (warning_point, lateness_seconds, "
                                             "level, elapsed_seconds and late, rule_id and started_at, "
                                             "cancelled_at)")
    timer: board.BoardTimer | None = Field(description="the timer as it stands when the event is sent (null if "
                                                       "it no longer exists)")


class EventStream(StreamingResponse):
    media_type = "text/event-stream"


@router.get("/stream", response_class=EventStream,
            summary="Server-Sent Events: alerts as they fire, completions, timers started and cancelled",
            responses={200: {"model": FeedEvent, "description": "an event stream; each event's data is a FeedEvent"}})
async def stream(
    request: Request, runtime: RuntimeDep, context: ContextDep, _: ReaderDep,
    types: str | None = Query(None, description=f"comma-separated subset of {','.join(feed.FEED_TYPES)} "
                                                "(default: all)"),
    after: str | None = Query(None, description="resume after this event id (as Last-Event-ID)"),
    last_event_id: str | None = Header(None),
) -> StreamingResponse:
    settings = context.settings
    wanted = tuple(t.strip() for t in types.split(",")) if types else feed.FEED_TYPES
    if bad := [t for t in wanted if t not in feed.FEED_TYPES]:
        raise field_error("types", f"unknown type(s) {bad}; choose from {list(feed.FEED_TYPES)}")
    resume = after or last_event_id
    try:
        cursor = feed.Cursor.parse(resume) if resume else None
    except ValueError as exc:
        raise field_error("after", "not an event id this stream sent") from exc
    if cursor is None:
        async with runtime.session_factory() as session:
            cursor = await feed.start_cursor(session)

    async def events(cursor: feed.Cursor) -> AsyncIterator[bytes]:
        yield b"retry: 2000\n: connected\n\n"
        last_sent = time.monotonic()
        while not await request.is_disconnected():
            async with runtime.session_factory() as session:
                rows = await feed.read_after(session, cursor, wanted)
                now = datetime.now(UTC)
                found = await board.timers_by_id(session, context.policies, [r["timer_id"] for r in rows], now)
            for r in rows:
                cursor = r.pop("cursor")
                body = FeedEvent(**r, timer=found.get(r["timer_id"])).model_dump_json()
                yield f"id: {cursor}\nevent: {r['type']}\ndata: {body}\n\n".encode()
                last_sent = time.monotonic()
            if not rows:
                if time.monotonic() - last_sent > settings.stream_keepalive_s:
                    yield b": keep-alive\n\n"
                    last_sent = time.monotonic()
                await asyncio.sleep(settings.stream_poll_s)

    return EventStream(events(cursor), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
