"""/api/v1/templates/preview: render a template with sample data (stored sample, overlaid)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from backbone.problems import Problem
from backbone.shapes import ClosedModel
from notify.api.deps import ContextDep, TemplateReaderDep
from notify.domain.templates import EVENT_TYPES, RenderedEmail, TemplateLoadError, TemplateRenderError

router = APIRouter(prefix="/api/v1/templates", tags=["templates"])


class PreviewIn(ClosedModel):
    event_type: str = Field(description=f"one of {', '.join(EVENT_TYPES)}")
    channel: Literal["sms", "email"]
    lang: Literal["zh-CN", "en"] = "zh-CN"
    sample: dict[str, Any] | None = Field(default=None, description="overrides of the stored sample data")


class PreviewOut(BaseModel):
    event_type: str
    channel: str
    lang: str
    text: str
    subject: str | None = None
    html: str | None = None
    encoding: str | None = None
    units: int | None = None
    parts: int | None = None


@router.post("/preview", response_model=PreviewOut, summary="Render a template with sample data")
async def preview(body: PreviewIn, principal: TemplateReaderDep, ctx: ContextDep) -> PreviewOut:
    if body.event_type not in EVENT_TYPES:
        raise Problem(422, "Invalid request", f"event_type: unknown event type {body.event_type!r}",
                      errors=[{"field": "event_type", "message": f"one of {', '.join(EVENT_TYPES)}"}])
    try:
        rendered = ctx.templates.preview(body.event_type, body.channel, body.lang, body.sample)
    except (TemplateLoadError, TemplateRenderError) as exc:
        raise Problem(422, "Template does not render", str(exc),
                      errors=[{"field": "sample", "message": str(exc)}]) from exc
    base = {"event_type": body.event_type, "channel": body.channel, "lang": body.lang}
    if isinstance(rendered, RenderedEmail):
        return PreviewOut(**base, subject=rendered.subject, text=rendered.text, html=rendered.html)
    return PreviewOut(**base, text=rendered.text, encoding=rendered.encoding.value, units=rendered.units,
                      parts=len(rendered.parts))
