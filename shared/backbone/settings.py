"""Settings common to every service, read from the environment (pydantic-settings).

Secrets have no usable default: a service refuses to start outside `local`/`test` with the
development JWT secret, the way full-stack-fastapi-template refuses `changethis`.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    environment: Literal["local", "test", "staging", "production"] = "local"
    service_name: str = "service"
    database_url: str = Field(default="postgresql+asyncpg://postgres@127.0.0.1:55432/postgres")
    db_pool_size: int = 10
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Kafka consumer group; scale out by starting more processes with the same group.
    consumer_group: str | None = None
    consumer_max_attempts: int = Field(default=5, ge=1)
    consumer_backoff_initial_s: float = 0.2
    consumer_backoff_max_s: float = 5.0
    # Events of one partition applied per transaction (1 = one transaction per event).
    consumer_batch_size: int = Field(default=100, ge=1)
    outbox_poll_interval_s: float = 0.02
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
    jwt_secret: str = DEV_JWT_SECRET
    jwt_issuer: str = "groupsuite"

    @model_validator(mode="after")
    def _refuse_dev_secret(self) -> Self:
        if self.environment in ("staging", "production") and self.jwt_secret == DEV_JWT_SECRET:
            raise ValueError("JWT_SECRET must be set outside local/test environments")
        return self

    @property
    def group_id(self) -> str:
        return self.consumer_group or self.service_name
