"""The EOMS bridge process: `uvicorn eoms_bridge.main:app`."""

from __future__ import annotations

from fastapi import FastAPI

from backbone.api import create_service_app
from backbone.runtime import ServiceRuntime
from eoms_bridge import __version__
from eoms_bridge.api import callbacks, queues, tickets, tmf, workflows
from eoms_bridge.bootstrap import bootstrap
from eoms_bridge.context import Bridge
from eoms_bridge.settings import EomsSettings


def build_app(settings: EomsSettings | None = None) -> FastAPI:
    settings = settings or EomsSettings()
    bridge = Bridge.create(settings)  # validates the workflow catalog: a broken one stops the start

    def _bootstrap(s: EomsSettings) -> ServiceRuntime:
        return bootstrap(s, bridge)

    app = create_service_app(
        settings=settings,
        bootstrap=_bootstrap,
        routers=[tickets.router, queues.router, workflows.router, callbacks.router, tmf.router],
        title="EOMS bridge",
        version=__version__,
        description="Turns orders and complaints into network tickets and walks them through their workflow nodes.",
    )
    app.state.bridge = bridge
    return app


app = build_app()
