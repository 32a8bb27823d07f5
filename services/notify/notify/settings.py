from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from backbone.settings import ServiceSettings
from notify.domain.policy import PolicyConfig


class NotifySettings(ServiceSettings):
    service_name: str = "notify"
    smtp_url: str = "smtp://127.0.0.1:2525"  # smtp[s]://user:password@host:port; STARTTLS with ?starttls=1
    mail_from: str = "sla-alerts@groupsuite.example"
    smpp_url: str | None = None  # smpp://system_id:password@host:port
    smpp_submit_timeout_s: float = 10.0  # wait this long for a bound SMPP session before retrying later
    # Directory and templates as data: the newest directory version stored via the admin API
    # wins; this file is the seed used until one is stored.
    directory_file: str | None = None
    templates_dir: str | None = None
    max_sms_parts: int = 3
    # A partition's run of alerts queued set-based (notify.services.alert_runs); false: event by event.
    set_based_consumer: bool = True
    # Dispatch: workers per channel, retries with exponential backoff, then failed + DLQ.
    dispatch_interval_s: float = 0.1
    # Worker 0 of a channel with nothing to claim sleeps until the earliest due row, at most this long: every
    # writer of rows in this process wakes the dispatchers after its commit (the consumer, digests, an admin's
    # resend, recovery), so this only bounds how late rows queued by another instance that died are sent (5 s
    # before: a claim every 5 s per channel at idle, issue 16).
    dispatch_idle_poll_s: float = Field(default=30.0, gt=0)
    email_workers: int = Field(default=4, ge=1)
    sms_workers: int = Field(default=4, ge=1)
    # Rows one worker claims in one statement and sends concurrently (also the most rows per worker that a
    # crash can leave accepted-but-not-recorded: the documented window, docs/notify.md).
    dispatch_batch: int = Field(default=16, ge=1, le=500)
    smtp_connections: int = Field(default=32, ge=1)  # pooled SMTP sessions (one message at a time each)
    smpp_binds: int = Field(default=2, ge=1)  # SMPP sessions (binds) of the process
    smpp_window: int = Field(default=64, ge=1)  # submit_sm outstanding per bind (matched by sequence number)
    max_send_attempts: int = Field(default=5, ge=1)
    # An unreachable SMTP server or SMSC does not use up attempts: its rows wait this long after they were queued.
    send_unreachable_window_s: float = Field(default=86_400.0, gt=0)
    send_backoff_initial_s: float = 2.0
    send_backoff_max_s: float = 300.0
    # How often `sending` rows of dead instances are put back (how late after a crash they are sent; was 5 s, a
    # transaction every 5 s at idle).
    recovery_interval_s: float = 15.0
    # Anti-storm policy (see notify.domain.policy).
    rate_limit: int = Field(default=10, ge=1)
    rate_window_s: float = 3600
    digest_threshold: int = Field(default=3, ge=1)
    digest_window_s: float = 900
    dedup_window_s: float = 1800
    digest_interval_s: float = 1.0
    # With no digested alert waiting, the digest worker sleeps this long (the consumer's commits wake it).
    digest_idle_poll_s: float = Field(default=30.0, gt=0)
    # Who receives the daily statistics report (stats.report.generated) by e-mail: the directory's people
    # holding one of these roles (JSON list in the environment).
    report_recipient_roles: tuple[str, ...] = ("supervisor", "department_head")

    def policy(self) -> PolicyConfig:
        return PolicyConfig(
            rate_limit=self.rate_limit,
            rate_window=timedelta(seconds=self.rate_window_s),
            digest_threshold=self.digest_threshold,
            digest_window=timedelta(seconds=self.digest_window_s),
            dedup_window=timedelta(seconds=self.dedup_window_s),
        )

    @property
    def history_span(self) -> timedelta:
        return timedelta(seconds=max(self.rate_window_s, self.digest_window_s, self.dedup_window_s))
