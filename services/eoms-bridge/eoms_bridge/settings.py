from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from backbone.hub.settings import HubSettings
from backbone.settings import ServiceSettings, json_or_items
from backbone.vocabulary import GENERIC_COMPLAINT
from eoms_bridge.adapter.signing import PARTNER_ID_RE

#: The committed callback partner and secret: accepted only where ENVIRONMENT is local or test.
DEV_EOMS_PARTNER = "eoms-dev"
DEV_EOMS_CALLBACK_SECRET = "dev-eoms-callback-secret-not-for-production"
#: The shortest partner secret accepted outside local/test (HMAC-SHA256 keys: 32 bytes and more).
MIN_CALLBACK_SECRET_LENGTH = 32


class EomsSettings(ServiceSettings, HubSettings):
    service_name: str = "eoms-bridge"
    # Folder of workflow YAML files, validated and synced into the definitions table at start
    # (default: the catalog shipped in eoms_bridge/workflows/).
    workflow_dir: str | None = None
    # Business type of a complaint that names no product (or whose product has no complaint workflow):
    # its workflow must be in the catalog, else the start fails.
    generic_complaint_business_type: str = GENERIC_COMPLAINT
    # The organisation node tasks are dispatched to: departments, regions, partners, people, rosters,
    # dispatch rules, partners' nodes (default: eoms_bridge/data/organisation.yaml), validated at start.
    organisation_file: str | None = None
    # Adapter mode: the callback partner (a key of EOMS_CALLBACK_PARTNERS) whose EOMS is at EOMS_URL; a
    # forwarded ticket records it and only that partner's signed callbacks may act on it.
    eoms_url_partner: str = DEV_EOMS_PARTNER
    # Without EOMS_URL the bridge runs the workflow itself; with it, tickets are forwarded there.
    eoms_url: str | None = None
    eoms_timeout_s: float = 2.0
    eoms_max_attempts: int = 3  # per forward attempt of the forwarder (HTTP retries with backoff)
    eoms_backoff_initial_s: float = 0.1
    eoms_backoff_max_s: float = 2.0
    eoms_breaker_failures: int = 5  # consecutive failures that open the circuit
    eoms_breaker_reset_s: float = 5.0  # open -> half-open after this long
    eoms_forward_batch: int = 50
    # A run of one partition's events applied in one transaction (backbone.consumer): up to 500, the most one
    # poll hands over per partition (backbone's default 100), so a backlog (a restart, a burst) pays a run's
    # fixed statements and commit per 500 orders (as the SLA service does).
    consumer_batch_size: int = Field(default=500, ge=1)
    eoms_forward_poll_s: float = 0.2
    eoms_forward_retry_initial_s: float = 0.5  # a queued forward that failed waits this long, doubling,
    eoms_forward_retry_max_s: float = 60.0  # up to this delay
    # Who may call POST /api/v1/eoms/callbacks: partner id → HMAC secret (eoms_bridge/adapter/signing.py),
    # as JSON (`{"eoms-main": "…"}`) or `eoms-main=…,eoms-backup=…`. From the environment (a Secret);
    # the committed dev partner only in local/test.
    eoms_callback_partners: Annotated[dict[str, SecretStr], NoDecode] = Field(
        default_factory=lambda: {DEV_EOMS_PARTNER: SecretStr(DEV_EOMS_CALLBACK_SECRET)})
    # A callback's X-EOMS-Timestamp must be within this many seconds of the bridge's clock; a signature
    # is remembered (refused a second time) for twice as long.
    eoms_callback_window_s: int = Field(default=300, ge=5, le=3600)

    @field_validator("eoms_callback_partners", mode="before")
    @classmethod
    def _partners(cls, value: Any) -> Any:
        value = json_or_items(value)
        if isinstance(value, list):
            pairs = [p.partition("=") if isinstance(p, str) else ("", "", "") for p in value]
            if any(not sep for _, sep, _ in pairs):
                raise ValueError("EOMS_CALLBACK_PARTNERS takes JSON or partner=secret pairs separated by commas")
            value = {k.strip(): v.strip() for k, _, v in pairs}
        if isinstance(value, dict):
            bad = [k for k in value if not isinstance(k, str) or not PARTNER_ID_RE.fullmatch(k)]
            if bad:
                raise ValueError(f"EOMS_CALLBACK_PARTNERS: partner ids are lowercase [a-z0-9_.-], at most 40: {bad}")
        return value

    @model_validator(mode="after")
    def _refuse_dev_callback_secrets(self) -> Self:
        if self.dev_environment:
            return self
        secrets = {k: v.get_secret_value() for k, v in self.eoms_callback_partners.items()}
        if not secrets:
            raise ValueError("EOMS_CALLBACK_PARTNERS must name at least one partner outside local/test environments")
        if DEV_EOMS_PARTNER in secrets or DEV_EOMS_CALLBACK_SECRET in secrets.values():
            raise ValueError("EOMS_CALLBACK_PARTNERS must be set outside local/test environments (not the dev partner)")
        if short := sorted(k for k, v in secrets.items() if len(v) < MIN_CALLBACK_SECRET_LENGTH):
            raise ValueError(f"EOMS_CALLBACK_PARTNERS: the secrets of {short} are shorter than "
                             f"{MIN_CALLBACK_SECRET_LENGTH} characters")
        if self.eoms_url and self.eoms_url_partner not in secrets:
            raise ValueError(f"EOMS_URL_PARTNER {self.eoms_url_partner!r} must name one of EOMS_CALLBACK_PARTNERS "
                             "(the partner whose EOMS receives the forwarded tickets)")
        return self

    def callback_secrets(self) -> dict[str, str]:
        return {k: v.get_secret_value() for k, v in self.eoms_callback_partners.items()}
