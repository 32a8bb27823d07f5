"""Fixtures of the security tests: the four services in-process, and a real identity provider (Keycloak).

`service_apps(database_url, **settings)` builds each service's FastAPI app with its runtime
bootstrapped but not started (no relay, consumer or worker: these tests share the test Kafka and
must not join the suite's consumer groups), its sessions on a connection-per-session engine (the
apps may be driven from another event loop than the one that built them).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from starlette.types import Receive, Scope, Send

SERVICE_NAMES = ("crm", "eoms-bridge", "sla", "notify")


def build_service_app(name: str, database_url: str, **overrides: Any) -> tuple[FastAPI, AsyncEngine]:
    from crm import bootstrap as crm_bootstrap
    from crm.main import build_app as crm_app
    from crm.settings import CrmSettings
    from eoms_bridge import bootstrap as eoms_bootstrap
    from eoms_bridge.main import build_app as eoms_app
    from eoms_bridge.settings import EomsSettings
    from notify import bootstrap as notify_bootstrap
    from notify.main import build_app as notify_app
    from notify.settings import NotifySettings
    from sla import bootstrap as sla_bootstrap
    from sla.main import build_app as sla_app
    from sla.settings import SlaSettings
    from stats import bootstrap as stats_bootstrap
    from stats.main import build_app as stats_app
    from stats.settings import StatsSettings

    parts: dict[str, tuple[Callable[..., FastAPI], type[Any], Any]] = {
        "crm": (crm_app, CrmSettings, crm_bootstrap), "eoms-bridge": (eoms_app, EomsSettings, eoms_bootstrap),
        "sla": (sla_app, SlaSettings, sla_bootstrap), "notify": (notify_app, NotifySettings, notify_bootstrap),
        "stats": (stats_app, StatsSettings, stats_bootstrap),
    }
    build, settings_type, module = parts[name]
    settings = settings_type(**{"environment": "test", "database_url": database_url, "run_relay": False,
                                "run_consumers": False, "run_retention": False, "log_level": "WARNING",
                                **overrides})
    app = build(settings)
    runtime = app.state.runtime = module.bootstrap(settings)
    schema = runtime.infra.metadata.schema
    engine = create_async_engine(database_url, poolclass=NullPool, hide_parameters=True,
                                 connect_args={"server_settings": {"search_path": f"{schema},public"}})
    runtime.session_factory.configure(bind=engine)
    return app, engine


@pytest.fixture(scope="session")
def service_apps() -> Iterator[Callable[..., dict[str, FastAPI]]]:
    built: list[tuple[FastAPI, AsyncEngine]] = []

    def make(database_url: str, names: tuple[str, ...] = SERVICE_NAMES, **overrides: Any) -> dict[str, FastAPI]:
        apps = {}
        for name in names:
            app, engine = build_service_app(name, database_url, **overrides)
            built.append((app, engine))
            apps[name] = app
        return apps

    yield make
    for app, engine in built:
        asyncio.run(app.state.runtime.infra.engine.dispose())
        asyncio.run(engine.dispose())


@pytest.fixture(scope="session")
def keycloak() -> Iterator[Any]:
    """Keycloak with the suite's realm, started once per session by the tests that ask for it."""
    from devtools.keycloak import Keycloak

    kc = Keycloak.start(os.environ.get("GS_KEYCLOAK_PROFILE", "test"))
    try:
        yield kc
    finally:
        kc.stop()


def recreate_database(infra_url: str, name: str) -> str:
    """A database of its own on the test PostgreSQL, dropped and created afresh (empty); its URL."""

    async def recreate() -> None:
        conn = await asyncpg.connect(infra_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()

    asyncio.run(recreate())
    return f"{infra_url.rpartition('/')[0]}/{name}"


def migrated_database(infra_url: str, name: str) -> str:
    """`recreate_database` with every service's schema migrated: a test that fills tables with generated or
    every-role data keeps them away from the other tests'."""
    from backbone.release import migrate_all

    url = recreate_database(infra_url, name)
    migrate_all(url)
    return url


class WithoutLifespan:
    """An app without its lifespan: the runtime is bootstrapped, never started (no relay, consumers or workers)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await self.app(scope, receive, send)
