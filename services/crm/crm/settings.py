from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from backbone.settings import ServiceSettings


class CrmSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    service_name: str = "crm"
    # The dev token issuer (POST /api/v1/dev/token) exists only in local/test environments.
    dev_token_issuer: bool = True
    # Tiering weights and grading (thresholds or rank shares): a YAML file in the format of the packaged
    # crm/data/tiering.yaml, which applies when this is not set. Validated at start.
    tiering_file: str | None = None
