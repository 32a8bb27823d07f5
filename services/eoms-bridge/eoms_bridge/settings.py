from __future__ import annotations

from typing import Self

from pydantic import model_validator

from backbone.settings import ServiceSettings
from backbone.vocabulary import GENERIC_COMPLAINT

#: The committed callback token: accepted only where ENVIRONMENT is local or test.
DEV_EOMS_CALLBACK_TOKEN = "dev-eoms-callback-token"


class EomsSettings(ServiceSettings):
    service_name: str = "eoms-bridge"
    # Folder of workflow YAML files, validated and synced into the definitions table at start
    # (default: the catalog shipped in eoms_bridge/workflows/).
    workflow_dir: str | None = None
    # Business type of a complaint that names no product (or whose product has no complaint workflow):
    # its workflow must be in the catalog, else the start fails.
    generic_complaint_business_type: str = GENERIC_COMPLAINT
    # Without EOMS_URL the bridge runs the workflow itself; with it, tickets are forwarded there.
    eoms_url: str | None = None
    eoms_timeout_s: float = 2.0
    eoms_max_attempts: int = 3  # per forward attempt of the forwarder (HTTP retries with backoff)
    eoms_backoff_initial_s: float = 0.1
    eoms_backoff_max_s: float = 2.0
    eoms_breaker_failures: int = 5  # consecutive failures that open the circuit
    eoms_breaker_reset_s: float = 5.0  # open -> half-open after this long
    eoms_forward_batch: int = 50
    eoms_forward_poll_s: float = 0.2
    eoms_forward_retry_initial_s: float = 0.5  # a queued forward that failed waits this long, doubling,
    eoms_forward_retry_max_s: float = 60.0  # up to this delay
    # Shared secret the external EOMS sends in X-EOMS-Token on callbacks.
    eoms_callback_token: str = DEV_EOMS_CALLBACK_TOKEN

    @model_validator(mode="after")
    def _refuse_dev_callback_token(self) -> Self:
        if not self.dev_environment and self.eoms_callback_token == DEV_EOMS_CALLBACK_TOKEN:
            raise ValueError("EOMS_CALLBACK_TOKEN must be set outside local/test environments")
        return self
