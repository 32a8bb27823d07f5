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
    # Events of one partition per transaction (backbone's default is 100): a run's fixed cost (BEGIN, the inbox
    # claim, the policy version and tier reads, COMMIT: 6 round trips for starts, 8 for stops) paid for 500
    # events, the most one poll hands over. In process at load 11-13, 4,000 each: wall per start 1.31-1.51 →
    # 0.80-0.94 ms, per stop 1.73 → 1.31 ms (analysed table), CPU per start 0.22 → 0.14-0.16 ms (docs/sla.md).
    consumer_batch_size: int = Field(default=500, ge=1)
    # The due-timer scanner sleeps until the next timer is due (woken by the consumer's commits), its
    # passes at least scan_interval_s apart, at most scan_idle_s; and how many it takes per transaction.
    scan_interval_s: float = 0.1
    # The consumer's commits wake the scanner and it sleeps until the next timer is due, so scan_idle_s only bounds
    # how late a timer written without a wake-up fires (another instance's after it died; was 2 s, idle).
    scan_idle_s: float = 10.0
    scan_batch_size: int = 500
    # Live feed (SSE): how often it polls the alert table, and the keep-alive comment interval.
    stream_poll_s: float = 0.25
    stream_keepalive_s: float = 15.0
    # Written on each alert row: which instance fired it (diagnostics, tests).
    instance_id: str = Field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
