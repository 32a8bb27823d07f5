"""The CRM process: `uvicorn crm.main:app`."""

from __future__ import annotations

from fastapi import FastAPI

from backbone.api import create_service_app
from crm import __version__
from crm.api import (
    auth_config,
    complaints,
    customers,
    dev,
    key_persons,
    opportunities,
    orders,
    products,
    tiering,
    tmf,
    workbench,
)
from crm.bootstrap import bootstrap
from crm.settings import CrmSettings

ROUTERS = [customers.router, key_persons.router, products.router, opportunities.router, orders.router,
           complaints.router, workbench.router, tmf.router, tiering.router, auth_config.router]


def build_app(settings: CrmSettings | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or CrmSettings(),
        bootstrap=bootstrap,
        routers=ROUTERS,
        dev_routers=[dev.router],  # the dev token issuer: only where ENVIRONMENT is local or test
        title="CRM gateway",
        version=__version__,
        description="Enterprise (group) customers, key persons, products, opportunities, orders and complaints: "
                    "the suite's single entry point. Errors are RFC 9457 problem+json; every POST takes an "
                    "Idempotency-Key. See docs/crm.md.",
    )


app = build_app()
