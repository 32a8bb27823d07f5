"""`backbone.runtime.ServiceRuntime`: its outbox relay polls as the settings say (no server is reached)."""

from __future__ import annotations

from sqlalchemy import MetaData

from backbone.db import event_tables
from backbone.runtime import Infra, ServiceRuntime
from backbone.settings import ServiceSettings


async def test_the_relay_listens_with_the_settings_fallback_poll() -> None:
    metadata = MetaData(schema="relay_settings_test")
    event_tables(metadata)
    default = ServiceSettings(environment="test")
    assert default.outbox_fallback_poll_s == 30.0  # only a safety net: commits wake the relay
    settings = ServiceSettings(environment="test", outbox_fallback_poll_s=7.5, outbox_poll_interval_s=0.05)
    runtime = ServiceRuntime(Infra.create(settings, metadata), context=None)
    try:
        assert runtime.relay.fallback_poll_s == 7.5
        assert runtime.relay.poll_interval_s == 0.05
    finally:
        await runtime.infra.engine.dispose()
