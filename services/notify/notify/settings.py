from __future__ import annotations

from backbone.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    service_name: str = "notify"
    smtp_url: str = "smtp://127.0.0.1:2525"  # smtp[s]://user:password@host:port; STARTTLS with ?starttls=1
    mail_from: str = "sla-alerts@groupsuite.example"
    mail_domain: str = "groupsuite.example"
    smpp_url: str | None = None  # smpp://system_id:password@host:port
    dispatch_interval_s: float = 0.1
    dispatch_batch_size: int = 100
    max_send_attempts: int = 5
