from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from backbone.hub.settings import HubSettings
from backbone.settings import ServiceSettings


class CrmSettings(ServiceSettings, HubSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    service_name: str = "crm"
    # The dev token issuer (POST /api/v1/dev/token) exists only in local/test environments.
    dev_token_issuer: bool = True
    # The OIDC public client a browser signs in as (the console), and the scopes it asks for: told to
    # the login page by GET /api/v1/auth/config. The provider itself is OIDC_ISSUER (backbone).
    oidc_client_id: str | None = None
    oidc_scope: str = "openid profile"
    # Tiering weights and grading (thresholds or rank shares): a YAML file in the format of the packaged
    # crm/data/tiering.yaml, which applies when this is not set. Validated at start.
    tiering_file: str | None = None
