"""The EOMS bridge process: `uvicorn eoms_bridge.main:app`."""

from __future__ import annotations

from fastapi import FastAPI

from backbone.api import create_service_app
from eoms_bridge import __version__
from eoms_bridge.api import assignments, callbacks, queues, tickets, tmf, workflows
from eoms_bridge.bootstrap import bootstrap
from eoms_bridge.settings import EomsSettings


def build_app(settings: EomsSettings | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or EomsSettings(),
        bootstrap=bootstrap,
        routers=[tickets.router, queues.router, workflows.router, workflows.work_router, callbacks.router,
                 tmf.router, assignments.router],
        title="EOMS bridge",
        version=__version__,
        description="Turns orders and complaints into network tickets and walks them through their workflow nodes.",
    )


app = build_app()
