"""What the CRM accepts, the EOMS bridge has a workflow for: a valid business input never dead-letters.

- every (product, business kind) an order item may carry (the CRM catalogue) has a shipped workflow;
- every product's complaints have one, and a complaint naming no product has the generic one;
- the generic complaint workflow's triage routes every category the CRM records.
"""

from __future__ import annotations

from backbone.vocabulary import (
    GENERIC_COMPLAINT,
    ComplaintCategory,
    ProductId,
    TicketKind,
    business_type,
    business_type_of_complaint,
)
from crm.domain.products import load_catalogue
from eoms_bridge.domain.routing import complaint_business_types, initial_tickets
from eoms_bridge.settings import EomsSettings
from eoms_bridge.workflows_loader import load_catalog

CATALOG = load_catalog()


def test_every_order_item_the_crm_accepts_has_a_workflow_that_opens_tickets() -> None:
    for product in load_catalogue():
        for kind in product.business_kinds:
            workflow = CATALOG.latest(business_type(product.id.value, kind.value))
            assert initial_tickets(workflow), workflow.label


def test_every_complaint_the_crm_accepts_has_a_workflow() -> None:
    generic = EomsSettings.model_fields["generic_complaint_business_type"].default
    assert generic == GENERIC_COMPLAINT
    for product in [*(p.value for p in ProductId), None]:
        (first, *_) = complaint_business_types(product, generic)
        assert first == business_type_of_complaint(product)
        workflow = CATALOG.latest(first)
        assert initial_tickets(workflow) == [TicketKind.COMPLAINT_FAULT], workflow.label


def test_the_generic_triage_routes_every_complaint_category_the_crm_records() -> None:
    triage = CATALOG.latest(GENERIC_COMPLAINT).ticket(TicketKind.COMPLAINT_FAULT).node("complaint_triage")
    assert {c.value for c in ComplaintCategory} <= set(triage.outcomes)
