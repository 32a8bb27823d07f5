"""The SLA process: `uvicorn sla.main:app`."""

from __future__ import annotations

from fastapi import FastAPI

from backbone.api import create_service_app
from sla import __version__
from sla.api import policies, policy_reads, reports, stream, timers
from sla.bootstrap import bootstrap
from sla.settings import SlaSettings


def build_app(settings: SlaSettings | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or SlaSettings(),
        bootstrap=bootstrap,
        routers=[policies.router, policy_reads.router, timers.router, reports.router, stream.router],
        title="SLA service",
        version=__version__,
        description="A deadline for every ticket node, per business type, customer tier and role.",
    )


app = build_app()
