"""Fixtures of the backbone's integration tests (real PostgreSQL from the root conftest's `infra`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest_asyncio
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backbone.db import make_engine, make_session_factory
from backbone.hub.model import HubTables, hub_tables


@dataclass(frozen=True)
class HubSchema:
    engine: AsyncEngine
    tables: HubTables
    session_factory: async_sessionmaker[AsyncSession]


@pytest_asyncio.fixture(loop_scope="session")
async def hub_schema(infra) -> AsyncIterator[HubSchema]:
    """The hub's two tables in a schema of their own, dropped after the test."""
    schema = f"hub_{uuid.uuid4().hex[:8]}"
    metadata = MetaData(schema=schema)
    tables = hub_tables(metadata)
    engine = make_engine(infra.database_url, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {schema}"))
        await conn.run_sync(metadata.create_all)
    try:
        yield HubSchema(engine, tables, make_session_factory(engine))
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await engine.dispose()
