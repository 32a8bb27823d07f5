"""The EOMS bridge process: `uvicorn eoms_bridge.main:app`."""

from __future__ import annotations

from fastapi import FastAPI

from backbone.api import create_service_app
from backbone.hub.api import hub_router
from eoms_bridge import __version__, tmf_events
from eoms_bridge.api import assignments, callbacks, queues, tickets, tmf, workflows
from eoms_bridge.bootstrap import bootstrap
from eoms_bridge.models import hub
from eoms_bridge.settings import EomsSettings


def build_app(settings: EomsSettings | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or EomsSettings(),
        bootstrap=bootstrap,
        routers=[tickets.router, queues.router, workflows.router, workflows.work_router, callbacks.router,
                 tmf.router, hub_router(tmf_events.ticket_hub(hub), tag="TMF621 hub"), assignments.router],
        title="EOMS bridge",
        version=__version__,
        description="Turns orders and complaints into network tickets and walks them through their workflow nodes.",
    )


app = build_app()
