"""Settings common to every service, read from the environment (pydantic-settings).

`ENVIRONMENT` has no default: a process that is not told where it runs does not start. Secrets have
no usable default outside `local`/`test`: a service refuses to start there with the committed
development JWT secret (the way full-stack-fastapi-template refuses `changethis`), and it needs an
OIDC issuer, since the HS256 dev issuer exists only in local/test (docs/security.md).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"
#: Where the HS256 development issuer may run (and `/api/v1/dev/token` exists).
DEV_ENVIRONMENTS = frozenset({"local", "test"})

Environment = Literal["local", "test", "staging", "production"]

#: A browser origin: scheme, host and optional port, nothing else (what the Origin header carries).
_ORIGIN_RE = re.compile(r"https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def json_or_items(value: Any) -> Any:
    """A setting that holds several values, as the environment gives it: JSON (an array or an object) or
    comma-separated items (stripped, blank ones dropped); a value that is not a string is returned as it is."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith(("[", "{")):
        return json.loads(text)
    return [item.strip() for item in text.split(",") if item.strip()]


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    # No default on purpose: `make run` says local, the tests say test, deploy/ says staging/production.
    environment: Environment
    service_name: str = "service"
    database_url: str = Field(default="postgresql+asyncpg://postgres@127.0.0.1:55432/postgres")
    db_pool_size: int = 10
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # How the Kafka clients authenticate (backbone.kafka.KafkaSecurity; docs/security.md, item 6): PLAINTEXT
    # for the local broker on loopback; SASL_PLAINTEXT or SASL_SSL with SCRAM as the service's own principal
    # in deploy/ (docker-compose: SCRAM-SHA-512 per service; Kubernetes: Strimzi KafkaUsers over TLS).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None  # the CA bundle of SSL / SASL_SSL (default: the system's)
    # Kafka consumer group; scale out by starting more processes with the same group.
    consumer_group: str | None = None
    consumer_max_attempts: int = Field(default=5, ge=1)
    consumer_backoff_initial_s: float = 0.2
    consumer_backoff_max_s: float = 5.0
    # Events of one partition applied per transaction (1 = one transaction per event).
    consumer_batch_size: int = Field(default=100, ge=1)
    outbox_poll_interval_s: float = 0.02
    # The relay's poll while it LISTENs: every commit that writes outbox rows wakes it (its own process's directly,
    # another's by NOTIFY), so this only catches rows written without a wake-up (by hand, an older writer). Was the
    # relay's 5 s default, a read and a backlog count every 5 s in every service at idle (docs/benchmarks.md, idle).
    outbox_fallback_poll_s: float = Field(default=30.0, gt=0)
    outbox_batch_size: int = 500
    run_relay: bool = True
    run_consumers: bool = True
    # Retention (backbone.retention): sent outbox rows, inbox rows (must outlive the topics'
    # retention, 7 days by default, or a late redelivery could apply twice), idempotency keys.
    run_retention: bool = True
    retention_interval_s: float = Field(default=600.0, gt=0)
    retention_batch_size: int = Field(default=5000, ge=1)
    outbox_retention_h: float = Field(default=24.0, gt=0)
    inbox_retention_h: float = Field(default=192.0, gt=0)
    idempotency_retention_h: float = Field(default=24.0, gt=0)
    log_level: str = "INFO"
    # The HS256 development issuer (local/test only; `backbone.auth`).
    jwt_secret: str = DEV_JWT_SECRET
    jwt_issuer: str = "groupsuite"
    # Real identity: an OIDC provider's tokens (RS256/ES256), keys from its discovery document's JWKS.
    oidc_issuer: str | None = None
    # The `aud` this service requires; by default its own name (crm, eoms-bridge, sla, notify).
    oidc_audience: str | None = None
    oidc_discovery_url: str | None = None  # default: <issuer>/.well-known/openid-configuration
    oidc_algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    oidc_roles_claim: str = "roles"  # a dotted path is followed: realm_access.roles
    oidc_jwks_ttl_s: float = Field(default=300.0, gt=0)  # keys are fetched again after this long
    oidc_jwks_min_refresh_s: float = Field(default=10.0, ge=0)  # an unknown kid refetches at most this often
    oidc_http_timeout_s: float = Field(default=3.0, gt=0)
    oidc_leeway_s: int = Field(default=30, ge=0, le=300)  # clock skew allowed on exp/nbf/iat
    # Hostile input (backbone.hardening): the largest request body read, in bytes (413 beyond).
    max_request_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Seconds a client is told to wait (Retry-After) when the database is unavailable (503).
    db_unavailable_retry_after_s: int = Field(default=5, ge=1)
    # Browser origins allowed to call this gateway (CORS), for a console served from another origin:
    # `https://ops.example.cn,https://ops-staging.example.cn` or a JSON list. Empty (the default): no
    # CORS headers at all; locally and in deploy/ the console and the gateways share one origin.
    cors_allow_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("oidc_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        allowed = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
        if not value or not set(value) <= allowed:
            raise ValueError(f"OIDC_ALGORITHMS must be asymmetric JWS algorithms among {sorted(allowed)}")
        return value

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        value = json_or_items(value)
        if isinstance(value, list):
            value = [o.strip().rstrip("/") if isinstance(o, str) else o for o in value]
            value = [o for o in value if o != ""]
            bad = [o for o in value if not isinstance(o, str) or not _ORIGIN_RE.fullmatch(o)]
            if bad:
                raise ValueError(f"CORS_ALLOW_ORIGINS takes origins like https://ops.example.cn (no path, no *): {bad}")
        return value

    @model_validator(mode="after")
    def _kafka_credentials(self) -> Self:
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if sasl and not (self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs KAFKA_SASL_MECHANISM, "
                             "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        if not sasl and (self.kafka_sasl_username or self.kafka_sasl_password):
            raise ValueError("KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD are set but KAFKA_SECURITY_PROTOCOL is "
                             f"{self.kafka_security_protocol}: they would not be used")
        return self

    @model_validator(mode="after")
    def _refuse_dev_secrets(self) -> Self:
        if self.dev_environment:
            return self
        if self.jwt_secret == DEV_JWT_SECRET:
            raise ValueError("JWT_SECRET must be set outside local/test environments")
        if not self.oidc_issuer:
            raise ValueError("OIDC_ISSUER must be set outside local/test environments (the dev issuer is off there)")
        if not self.oidc_issuer.startswith("https://"):
            raise ValueError("OIDC_ISSUER must be an https:// URL outside local/test environments")
        return self

    @property
    def dev_environment(self) -> bool:
        """True only where ENVIRONMENT says local or test: the HS256 dev issuer is accepted only then."""
        return self.environment in DEV_ENVIRONMENTS

    @property
    def audience(self) -> str:
        return self.oidc_audience or self.service_name

    @property
    def group_id(self) -> str:
        return self.consumer_group or self.service_name
