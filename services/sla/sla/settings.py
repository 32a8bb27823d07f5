from __future__ import annotations

import os
import socket
from pathlib import Path

from pydantic import Field

from backbone.settings import ServiceSettings
from sla.domain.policy import DEFAULT_POLICY_PATH
from sla.workflow_catalog import DEFAULT_CATALOG_PATH


class SlaSettings(ServiceSettings):
    service_name: str = "sla"
    # The policy file seeded at start: stored (and activated) if its version is new to the database.
    sla_policy_file: Path = DEFAULT_POLICY_PATH
    # The workflow catalog policies are linted against (generated from the EOMS bridge's workflows;
    # docs/sla.md), and files of workflows that exist only in this environment (JSON list of paths).
    sla_workflow_catalog: Path = DEFAULT_CATALOG_PATH
    sla_workflow_catalog_extra: tuple[Path, ...] = ()
    # Apply a partition's run of events set-based (ConsumerRunner's apply_run); false: the
    # handlers one by one, still in the run's one transaction.
    set_based_consumer: bool = True
    # The due-timer scanner sleeps until the next timer is due (woken by the consumer's commits), its
    # passes at least scan_interval_s apart, at most scan_idle_s; and how many it takes per transaction.
    scan_interval_s: float = 0.1
    scan_idle_s: float = 2.0
    scan_batch_size: int = 500
    # Live feed (SSE): how often it polls the alert table, and the keep-alive comment interval.
    stream_poll_s: float = 0.25
    stream_keepalive_s: float = 15.0
    # Written on each alert row: which instance fired it (diagnostics, tests).
    instance_id: str = Field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
