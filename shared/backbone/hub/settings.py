"""The hub's settings, mixed into a service's settings class (`class CrmSettings(HubSettings, ServiceSettings)`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode

from backbone.hub.ssrf import CallbackPolicy

#: What the hub may call in local/test when HUB_CALLBACK_ALLOW is not set: the machine itself.
DEV_ALLOW = ("127.0.0.1/32", "::1/128", "localhost")


class HubSettings(BaseSettings):
    run_hub: bool = True
    # Non-global callback targets the hub may call: CIDRs and host names, comma-separated or a JSON list.
    # Unset: loopback in local/test (make run, the tests), nothing elsewhere. Set to "" to allow nothing.
    hub_callback_allow: Annotated[list[str] | None, NoDecode] = None
    hub_timeout_s: float = Field(default=5.0, gt=0)  # one callback's whole time (connect, send, answer)
    hub_retry_window_h: float = Field(default=24.0, gt=0)  # how long a delivery is retried before `failed`
    hub_retry_initial_s: float = Field(default=5.0, gt=0)
    hub_retry_max_s: float = Field(default=1800.0, gt=0)
    hub_concurrency: int = Field(default=64, ge=1)  # callbacks in flight, all subscribers together
    hub_subscriber_concurrency: int = Field(default=8, ge=1)  # callbacks in flight to one subscriber
    hub_batch_size: int = Field(default=500, ge=1)  # rows claimed per pass
    hub_subscriber_batch: int = Field(default=50, ge=1)  # rows of one subscriber per pass
    hub_poll_s: float = Field(default=0.1, gt=0)  # the shortest wait between passes that claimed nothing
    # The delivery worker is woken by the commits that queue rows in its process and sleeps until a retry or a lease
    # is due: its idle poll only bounds how late rows queued by another process (no wake) that died before
    # delivering them go. 30 s: at 5 s it was two transactions every 5 s in every idle service (issue 16).
    hub_idle_poll_s: float = Field(default=30.0, gt=0)
    hub_lease_s: float = Field(default=120.0, gt=0)  # a claimed row is due again after this if the process died
    hub_breaker_failures: int = Field(default=5, ge=1)
    hub_breaker_reset_s: float = Field(default=30.0, gt=0)
    hub_retention_h: float = Field(default=168.0, gt=0)  # delivered / failed / cancelled rows kept this long

    @field_validator("hub_callback_allow", mode="before")
    @classmethod
    def _entries(cls, value: Any) -> Any:
        if isinstance(value, str):
            import json

            text = value.strip()
            value = json.loads(text) if text.startswith("[") else [v for v in text.split(",")]
        if isinstance(value, list):
            value = [str(v).strip() for v in value if str(v).strip()]
        return value

    @property
    def hub_policy(self) -> CallbackPolicy:
        entries = self.hub_callback_allow
        if entries is None:
            entries = list(DEV_ALLOW) if getattr(self, "dev_environment", False) else []
        return CallbackPolicy.parse(entries)
