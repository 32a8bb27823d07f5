from __future__ import annotations

from backbone.settings import ServiceSettings


class EomsSettings(ServiceSettings):
    service_name: str = "eoms-bridge"
    # Without EOMS_URL the bridge runs the workflow itself; with it, tickets are forwarded there.
    eoms_url: str | None = None
