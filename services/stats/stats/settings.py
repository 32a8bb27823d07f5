from __future__ import annotations

import os
import socket
from datetime import time
from pathlib import Path

from pydantic import Field

from backbone.settings import ServiceSettings
from stats.domain.roster import DEFAULT_ROSTER_PATH


class StatsSettings(ServiceSettings):
    service_name: str = "stats"
    # Who belongs to which department (timeliness per department; what a department head reads).
    stats_roster_file: Path = DEFAULT_ROSTER_PATH
    # The daily report: due at this local time (Asia/Shanghai) the morning after its day; how often the
    # scheduler looks (it is one indexed query: cheap at idle); how many past due days a pass still plans
    # (a fresh deployment reports yesterday only; an outage of more days loses none of the last N).
    report_time: time = time(8, 0)
    report_check_interval_s: float = Field(default=30.0, gt=0)
    report_catch_up_days: int = Field(default=1, ge=1, le=31)
    run_report_scheduler: bool = True
    # A replay is mostly inserts: larger runs per transaction.
    consumer_batch_size: int = Field(default=500, ge=1)
    # Written on each generated report (diagnostics, tests).
    instance_id: str = Field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
