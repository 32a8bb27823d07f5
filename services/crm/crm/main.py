"""The CRM process: `uvicorn crm.main:app`."""

from __future__ import annotations

from fastapi import FastAPI

from backbone.api import create_service_app
from backbone.hub.api import hub_router
from crm import __version__, tmf_events
from crm.api import (
    agents,
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
from crm.models import hub
from crm.settings import CrmSettings

ROUTERS = [customers.router, agents.router, key_persons.router, products.router, opportunities.router, orders.router,
           complaints.router, workbench.router, tmf.router, tiering.router, auth_config.router]
# The TMF hubs (backbone.hub): productOrderingManagement (TMF622 events) and troubleTicket (complaints).
ROUTERS += [hub_router(tmf_events.order_hub(hub), tag="TMF622 hub"),
            hub_router(tmf_events.ticket_hub(hub), tag="TMF621 hub")]


def build_app(settings: CrmSettings | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or CrmSettings(),
        bootstrap=bootstrap,
        routers=ROUTERS,
        dev_routers=[dev.router],  # the dev token issuer: only where ENVIRONMENT is local or test
        hot_routers=[orders.router],  # matched first: every order is a POST to it (backbone.api.first_matched)
        title="CRM gateway",
        version=__version__,
        description="Enterprise (group) customers, key persons, products, opportunities, orders and complaints: "
                    "the suite's single entry point. Errors are RFC 9457 problem+json; every POST takes an "
                    "Idempotency-Key. See docs/crm.md.",
    )


app = build_app()
