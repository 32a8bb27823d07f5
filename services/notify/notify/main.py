"""The notify process: `uvicorn notify.main:app`."""

from __future__ import annotations

from fastapi import FastAPI

from backbone.api import create_service_app
from notify import __version__
from notify.api import deliveries, directory, templates
from notify.bootstrap import bootstrap
from notify.settings import NotifySettings


def build_app(settings: NotifySettings | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or NotifySettings(),
        bootstrap=bootstrap,
        routers=[deliveries.router, directory.router, templates.router],
        title="Notify service",
        version=__version__,
        description="SMS (SMPP) and e-mail (SMTP) alerts to the people responsible, exactly once.",
    )


app = build_app()
