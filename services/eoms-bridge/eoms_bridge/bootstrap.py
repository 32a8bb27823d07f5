"""Wires the EOMS bridge: settings → runtime → consumers of the CRM's streams (+ the EOMS forwarder)."""

from __future__ import annotations

from backbone.runtime import ServiceRuntime
from backbone.topics import CRM_COMPLAINTS, CRM_ORDERS
from eoms_bridge import consumers
from eoms_bridge.adapter.forwarder import Forwarder
from eoms_bridge.context import Bridge
from eoms_bridge.models import metadata
from eoms_bridge.settings import EomsSettings


def bootstrap(settings: EomsSettings | None = None, bridge: Bridge | None = None) -> ServiceRuntime:
    settings = settings or EomsSettings()
    bridge = bridge or Bridge.create(settings)
    runtime = ServiceRuntime.create(settings, metadata)
    bridge.runtime = runtime
    runtime.add_consumer(topics=[CRM_ORDERS, CRM_COMPLAINTS], handlers=consumers.make_handlers(bridge))
    # The shipped catalog is synced into the shared table lazily, on the first event or request
    # (`bridge.ready()`): a finished background loop would read as a dead one in /readyz.
    if bridge.client is not None:
        forwarder = Forwarder(
            runtime.session_factory, bridge.client, batch_size=settings.eoms_forward_batch,
            poll_interval_s=settings.eoms_forward_poll_s, retry_initial_s=settings.eoms_forward_retry_initial_s,
            retry_max_s=settings.eoms_forward_retry_max_s,
        )

        async def forward_to_eoms() -> None:
            await forwarder.run()

        runtime.loops.append(forward_to_eoms)
    return runtime
