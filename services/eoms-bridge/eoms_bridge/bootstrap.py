"""Wires the EOMS bridge: settings → runtime → consumers of the CRM's streams."""

from __future__ import annotations

from backbone.runtime import ServiceRuntime
from backbone.topics import CRM_COMPLAINTS, CRM_ORDERS
from eoms_bridge import consumers
from eoms_bridge.models import metadata
from eoms_bridge.settings import EomsSettings


def bootstrap(settings: EomsSettings | None = None) -> ServiceRuntime:
    settings = settings or EomsSettings()
    runtime = ServiceRuntime.create(settings, metadata)
    runtime.add_consumer(topics=[CRM_ORDERS, CRM_COMPLAINTS], handlers=consumers.HANDLERS)
    return runtime
