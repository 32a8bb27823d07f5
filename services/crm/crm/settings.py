from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from backbone.hub.settings import HubSettings
from backbone.settings import ServiceSettings


class CrmSettings(ServiceSettings, HubSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    service_name: str = "crm"
    # The hub's delivery worker is woken by the commits that queue rows in this process and sleeps until a retry or a
    # lease is due: its idle poll only bounds how late rows of another process that died before delivering them go
    # (HubSettings' 5 s: two transactions every 5 s at idle; docs/benchmarks.md, idle).
    hub_idle_poll_s: float = Field(default=30.0, gt=0)
    # The dev token issuer (POST /api/v1/dev/token) exists only in local/test environments.
    dev_token_issuer: bool = True
    # The OIDC public client a browser signs in as (the console), and the scopes it asks for: told to
    # the login page by GET /api/v1/auth/config. The provider itself is OIDC_ISSUER (backbone).
    oidc_client_id: str | None = None
    oidc_scope: str = "openid profile"
    # Tiering weights and grading (thresholds or rank shares): a YAML file in the format of the packaged
    # crm/data/tiering.yaml, which applies when this is not set. Validated at start.
    tiering_file: str | None = None
