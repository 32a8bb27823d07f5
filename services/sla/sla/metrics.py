"""The SLA service's own Prometheus metrics (the mechanics' ones live in backbone.metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

TIMERS_STARTED = Counter("sla_timers_started_total", "Timers started", ["policy_version"])
TIMERS_UNMATCHED = Counter("sla_timers_unmatched_total", "Node entries no policy rule matched (no timer)")
TRANSITIONS_IGNORED = Counter(
    "sla_transitions_ignored_total", "Ticket events that did not apply to a timer's state", ["reason"]
)
COMPLETIONS_CLAMPED = Counter(
    "sla_completions_clamped_total", "Completions stamped before their timer's last event, applied at that event's time"
)
ALERTS_EMITTED = Counter("sla_alerts_emitted_total", "SLA events written to the outbox", ["type"])
FIRE_LATENESS = Histogram(
    "sla_fire_lateness_seconds", "Actual firing time minus due time of scheduled actions",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
