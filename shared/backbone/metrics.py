"""Prometheus metrics shared by the mechanics (outbox, consumers, HTTP); services add their own."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "events_consumed_total", "Events handled by a consumer", ["group", "type", "outcome"]
)
EVENTS_SKIPPED = Counter("events_skipped_total", "Events of unknown type skipped", ["group", "type"])
EVENTS_DEAD_LETTERED = Counter("events_dead_lettered_total", "Events sent to a DLQ", ["group", "topic", "reason"])
EVENT_HANDLE_SECONDS = Histogram(
    "event_handle_seconds", "Time to handle one event (transaction included)", ["group", "type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
CONSUMER_PAUSED = Gauge(
    "consumer_partition_paused", "1 while a partition is held on a record by a transient failure",
    ["group", "topic", "partition"],
)
CONSUMER_LAG = Gauge(
    "consumer_lag_records", "Records behind the partition's high watermark after the last applied pass",
    ["group", "topic", "partition"],
)
CONSUMER_PAUSES = Counter("consumer_partition_pauses_total", "Times a partition was paused", ["group", "topic"])
CONSUMER_TRANSIENT_RETRIES = Counter(
    "consumer_transient_retries_total", "Retries of a record after a transient (infrastructure) failure",
    ["group", "topic"],
)
OUTBOX_PUBLISHED = Counter("outbox_published_total", "Outbox rows published to Kafka", ["schema", "topic"])
OUTBOX_PENDING = Gauge("outbox_pending_rows", "Outbox rows not yet published (true count, at most 1 s old)", ["schema"])
OUTBOX_ROWS_FAILED = Counter("outbox_rows_failed_total", "Outbox rows set aside as unpublishable", ["schema", "topic"])
OUTBOX_FAILED_PENDING = Gauge("outbox_failed_rows", "Outbox rows set aside by the active relay", ["schema"])
RELAY_LEADER = Gauge("outbox_relay_leader", "1 while this process holds the schema's relay lock", ["schema"])
RELAY_LEADERSHIP_CHANGES = Counter(
    "outbox_relay_leadership_changes_total", "Relay lock acquired or lost", ["schema", "event"]
)
HTTP_REQUESTS = Histogram(
    "http_request_seconds", "HTTP request duration", ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
# The TMF hub (backbone.hub): events fanned out, callbacks by outcome, breakers, queue → callback time.
HUB_EVENTS = Counter("hub_events_total", "TMF events a hub fanned out", ["schema", "type"])
HUB_DELIVERIES = Counter(
    "hub_deliveries_total", "Hub callback attempts by outcome (delivered, retrying, failed, unsubscribed)",
    ["schema", "outcome"],
)
HUB_BREAKER_OPEN = Gauge("hub_breaker_open", "1 while a subscriber's breaker is open", ["schema", "subscription"])
HUB_DELIVERY_SECONDS = Histogram(
    "hub_delivery_seconds", "From a delivery row's queueing to its 2xx", ["schema"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)
