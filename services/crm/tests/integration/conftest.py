"""Fixtures of the CRM integration tests: the CRM app in-process on the real PostgreSQL and Kafka."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from crm_testkit import Crm

from crm.main import build_app
from crm.settings import CrmSettings
from devtools.demo import seed_async
from devtools.infra import Infra


# Module scope: an in-process CRM holds its schema's relay lock while it lives, and a session-long one
# would hold it through the synchronous browser tests (no event loop running), starving the suite's relay.
@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def crm(infra: Infra) -> AsyncIterator[Crm]:
    run = uuid.uuid4().hex[:8]
    settings = CrmSettings(
        environment="test", database_url=infra.database_url, kafka_bootstrap_servers=infra.kafka_bootstrap,
        consumer_group=f"crm-test-{run}", consumer_backoff_initial_s=0.05, db_pool_size=5,
    )
    await seed_async(infra.database_url)
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://crm.test", timeout=20) as http:
            yield Crm(http=http, infra=infra, run=run)


@pytest.fixture
def am(crm: Crm) -> str:
    """A fresh account manager of this test."""
    return crm.manager(f"am{uuid.uuid4().hex[:4]}")
