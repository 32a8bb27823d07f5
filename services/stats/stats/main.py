"""The statistics process: `uvicorn stats.main:app`."""

from __future__ import annotations

from fastapi import FastAPI

from backbone.api import create_service_app
from stats import __version__
from stats.api import reports, stats
from stats.bootstrap import bootstrap
from stats.settings import StatsSettings


def build_app(settings: StatsSettings | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or StatsSettings(),
        bootstrap=bootstrap,
        routers=[stats.router, reports.router],
        title="Statistics service",
        version=__version__,
        description="Volumes, satisfaction, conversion and timeliness from the suite's events (a read model "
                    "fed by Kafka), and the daily report at 08:00 Asia/Shanghai.",
    )


app = build_app()
