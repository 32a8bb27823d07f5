"""The CRM process: `uvicorn crm.main:app`."""

from __future__ import annotations

from fastapi import FastAPI

from backbone.api import create_service_app
from crm import __version__
from crm.api import dev, orders
from crm.bootstrap import bootstrap
from crm.settings import CrmSettings


def build_app(settings: CrmSettings | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or CrmSettings(),
        bootstrap=bootstrap,
        routers=[orders.router, dev.router],
        title="CRM gateway",
        version=__version__,
        description="Enterprise (group) customers, products, orders and complaints: the suite's single entry point.",
    )


app = build_app()
