from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from backbone.settings import ServiceSettings


class CrmSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    service_name: str = "crm"
    # The dev token issuer (POST /api/v1/dev/token) exists only in local/test environments.
    dev_token_issuer: bool = True
