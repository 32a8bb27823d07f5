"""The CRM's TM Forum faces, one router: TMF622 product ordering (`tmf_ordering`: productOrder and
cancelProductOrder) and TMF621 trouble tickets as complaints (`tmf_trouble_ticket`). The TMF630
conventions are `backbone.tmf`'s; the hubs are `backbone.hub`'s (mounted by `crm.main`). docs/tmf.md."""

from __future__ import annotations

from fastapi import APIRouter

from crm.api import tmf_ordering, tmf_trouble_ticket

router = APIRouter()
router.include_router(tmf_ordering.router)
router.include_router(tmf_trouble_ticket.router)
