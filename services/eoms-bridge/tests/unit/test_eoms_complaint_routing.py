"""A recorded complaint always reaches a workflow: its product's, else the generic complaint workflow; and the
start refuses a configuration where a complaint naming no product would have nowhere to go."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from backbone.events import ComplaintCreated
from backbone.vocabulary import GENERIC_COMPLAINT
from eoms_bridge.bootstrap import check_generic_complaint
from eoms_bridge.domain.errors import WorkflowDefinitionError, WorkflowNotFoundError
from eoms_bridge.domain.routing import complaint_business_types
from eoms_bridge.domain.workflow import WorkflowCatalog, WorkflowDefinition
from eoms_bridge.services.workflows import first_latest


class _Store:
    """The part of WorkflowStore the complaint path uses, over a catalog (no database)."""

    def __init__(self, catalog: WorkflowCatalog, *, without: str | None = None) -> None:
        self.catalog, self.without = catalog, without
        self.asked: list[str] = []

    async def latest(self, session: Any, business_type: str) -> WorkflowDefinition:
        self.asked.append(business_type)
        if business_type == self.without:
            raise WorkflowNotFoundError(f"no workflow for business type {business_type!r}")
        return self.catalog.latest(business_type)


async def _complaint_workflow(store: _Store, complaint: ComplaintCreated) -> WorkflowDefinition:
    types = complaint_business_types(complaint.product, GENERIC_COMPLAINT)
    return await first_latest(None, store, types, what="complaint")  # type: ignore[arg-type]


def _complaint(product: str | None) -> ComplaintCreated:
    return ComplaintCreated(
        complaint_id="cmp_1", category="billing", severity="low", product=product, description="话费有疑问",
        created_at=datetime.now(UTC), customer_id="cus_1", customer_name="客户", customer_tier="B",
        account_manager_id="am_1")


async def test_a_complaint_opens_its_products_workflow(catalog: WorkflowCatalog) -> None:
    store = _Store(catalog)
    wf = await _complaint_workflow(store, _complaint("m2m"))
    assert wf.business_type == "m2m.complaint" and store.asked == ["m2m.complaint"]


async def test_without_a_product_or_its_workflow_the_generic_one(catalog: WorkflowCatalog) -> None:
    wf = await _complaint_workflow(_Store(catalog), _complaint(None))
    assert wf.business_type == GENERIC_COMPLAINT
    store = _Store(catalog, without="m2m.complaint")  # e.g. a deployment's trimmed catalog
    wf = await _complaint_workflow(store, _complaint("m2m"))
    assert wf.business_type == GENERIC_COMPLAINT and store.asked == ["m2m.complaint", GENERIC_COMPLAINT]


def test_the_start_checks_the_generic_complaint_workflow(catalog: WorkflowCatalog) -> None:
    check_generic_complaint(catalog, GENERIC_COMPLAINT)
    with pytest.raises(WorkflowDefinitionError, match="no workflow in the catalog"):
        check_generic_complaint(WorkflowCatalog([catalog.latest("m2m.complaint")]), GENERIC_COMPLAINT)
    with pytest.raises(WorkflowDefinitionError, match="opens no complaint_fault ticket"):
        check_generic_complaint(catalog, "m2m.opening")
