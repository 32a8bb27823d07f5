"""The TMF hub: registrations, a durable per-subscriber delivery queue, signed callbacks (docs/tmf.md).

- `model`: the tables (`hub_tables`), `HubEvent`, `hub_event_id`, the TMF `query`;
- `fanout`: queue a service's TMF events for the matching subscriptions (consumer handlers);
- `delivery`: `HubDeliveryWorker` (claim, POST, retry with backoff, per-entity order, breaker), retention;
- `signing`: the HMAC-SHA256 signature and how a listener verifies it;
- `ssrf`: where the hub may call (`HUB_CALLBACK_ALLOW`);
- `service`, `api`: the use cases and `hub_router(HubApi(...))`;
- `settings`: `HubSettings`, mixed into a service's settings.
"""
