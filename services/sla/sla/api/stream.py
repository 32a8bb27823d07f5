"""/api/v1/stream: the live feed of warnings, breaches and escalations, as Server-Sent Events.

Every instance serves the same feed: it reads the alert table in commit order (services.feed),
whichever instance fired. Reconnect with `Last-Event-ID` (or `?after=`) to resume without gaps.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from backbone.problems import field_error
from sla.api.deps import ContextDep, ReaderDep, RuntimeDep
from sla.services import feed

router = APIRouter(prefix="/api/v1", tags=["stream"])


@router.get("/stream", summary="Server-Sent Events: sla.warning / sla.breached / sla.escalated as they fire",
            response_class=StreamingResponse)
async def stream(
    request: Request, runtime: RuntimeDep, context: ContextDep, _: ReaderDep,
    types: str | None = Query(None, description="comma-separated subset of sla.warning,sla.breached,sla.escalated"),
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
            for r in rows:
                cursor = r.pop("cursor")
                body = json.dumps(r, ensure_ascii=False, default=str)
                yield f"id: {cursor}\nevent: {r['type']}\ndata: {body}\n\n".encode()
                last_sent = time.monotonic()
            if not rows:
                if time.monotonic() - last_sent > settings.stream_keepalive_s:
                    yield b": keep-alive\n\n"
                    last_sent = time.monotonic()
                await asyncio.sleep(settings.stream_poll_s)

    return StreamingResponse(events(cursor), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
