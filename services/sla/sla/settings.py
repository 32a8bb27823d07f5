from __future__ import annotations

from backbone.settings import ServiceSettings


class SlaSettings(ServiceSettings):
    service_name: str = "sla"
    # How often the due-timer scanner looks for timers to fire, and how many it takes per batch.
    scan_interval_s: float = 0.2
    scan_batch_size: int = 1000
    # Until policies are loaded: one limit for every node (seconds).
    default_limit_s: float = 4 * 3600
