from __future__ import annotations

import pytest

from eoms_bridge.domain.workflow import WorkflowCatalog
from eoms_bridge.workflows_loader import load_catalog


@pytest.fixture(scope="session")
def catalog() -> WorkflowCatalog:
    return load_catalog()
