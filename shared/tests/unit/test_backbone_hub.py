"""The hub's pure parts: signing and verification, the SSRF classification, the retry schedule, the
per-subscriber breaker and the TMF query."""

from __future__ import annotations

import ipaddress
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backbone.errors import Invalid
from backbone.hub.breaker import CLOSED, HALF_OPEN, OPEN, Breaker
from backbone.hub.delivery import HubDeliveryWorker
from backbone.hub.model import HubEvent, hub_event_id, parse_query
from backbone.hub.settings import HubSettings
from backbone.hub.signing import SignatureError, sign, signed_headers, verify
from backbone.hub.ssrf import CallbackPolicy, CallbackRefused, check_callback, classify
from backbone.workers import Backoff

SECRET = "s3cret-s3cret-s3cret"


# -- signing ---------------------------------------------------------------------------------------
def test_a_signed_callback_verifies_and_any_change_breaks_it() -> None:
    body = b'{"eventId":"1","eventType":"productOrderCreateEvent"}'
    headers = signed_headers(SECRET, body, event_id="1", event_type="productOrderCreateEvent", timestamp=1_700_000_000)
    assert verify(SECRET, body, headers, now=1_700_000_010) == 1_700_000_000
    with pytest.raises(SignatureError, match="mismatch"):
        verify(SECRET, body + b" ", headers, now=1_700_000_010)
    with pytest.raises(SignatureError, match="mismatch"):
        verify("another-secret-value", body, headers, now=1_700_000_010)
    tampered = {**headers, "X-Hub-Timestamp": "1700000005"}  # a new timestamp needs a new signature
    with pytest.raises(SignatureError, match="mismatch"):
        verify(SECRET, body, tampered, now=1_700_000_010)


def test_a_replay_outside_the_tolerance_is_refused_and_headers_are_case_insensitive() -> None:
    body = b"{}"
    headers = {k.lower(): v for k, v in signed_headers(SECRET, body, event_id="e", event_type="t",
                                                         timestamp=1000).items()}
    assert verify(SECRET, body, headers, now=1000 + 300) == 1000
    with pytest.raises(SignatureError, match="replay"):
        verify(SECRET, body, headers, now=1000 + 301)
    with pytest.raises(SignatureError, match="missing"):
        verify(SECRET, body, {"x-hub-timestamp": "1000"}, now=1000)


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), b"42.hello", hashlib.sha256).hexdigest()
    assert sign(SECRET, 42, b"hello") == f"sha256={expected}"


# -- SSRF --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("address", "why"), [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"), ("172.16.0.1", "private"),
    ("192.168.1.1", "private"), ("169.254.169.254", "link-local (cloud metadata)"), ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"), ("fd00:ec2::254", "cloud metadata"), ("fc00::1", "private"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:169.254.169.254", "link-local (cloud metadata)"), ("100.64.0.1", "not global"),
    ("224.0.0.1", "multicast"), ("8.8.8.8", None), ("2001:4860:4860::8888", None),
])
def test_addresses_are_classified(address: str, why: str | None) -> None:
    assert classify(ipaddress.ip_address(address)) == why


async def test_callbacks_to_internal_addresses_are_refused_naming_callback() -> None:
    none = CallbackPolicy.parse([])
    for url in ("http://127.0.0.1:8080/cb", "http://169.254.169.254/latest/meta-data", "http://[fd00:ec2::254]/",
                "http://10.0.0.5/x", "http://localhost/x", "http://0.0.0.0/", "ftp://example.com/",
                "http://user:pw@8.8.8.8/", "not a url", "http:///nohost"):
        with pytest.raises(CallbackRefused) as caught:
            await check_callback(url, none)
        assert caught.value.field == "callback" and isinstance(caught.value, Invalid), url
    await check_callback("https://8.8.8.8/listener", none)


async def test_the_allow_list_admits_cidrs_and_host_names() -> None:
    policy = CallbackPolicy.parse(["127.0.0.1/32", "10.0.0.0/8", "listener.internal"])
    await check_callback("http://127.0.0.1:9000/cb", policy)
    await check_callback("http://10.9.8.7/cb", policy)
    await check_callback("http://listener.internal/cb", policy)  # admitted by name, never resolved
    with pytest.raises(CallbackRefused):
        await check_callback("http://169.254.169.254/", policy)
    with pytest.raises(CallbackRefused):
        await check_callback("http://[::1]/", policy)


def test_local_and_test_allow_loopback_by_default_production_allows_nothing() -> None:
    class Dev(HubSettings):
        dev_environment: bool = True

    class Prod(HubSettings):
        dev_environment: bool = False

    loopback = ipaddress.ip_address("127.0.0.1")
    assert Dev().hub_policy.admits(loopback)
    assert not Prod().hub_policy.admits(loopback)
    assert not Dev(hub_callback_allow="").hub_policy.admits(loopback)
    assert Prod(hub_callback_allow="127.0.0.1/32, 10.0.0.0/8").hub_policy.admits(ipaddress.ip_address("10.1.1.1"))


# -- retries -----------------------------------------------------------------------------------------
@given(st.integers(min_value=1, max_value=200))
def test_the_retry_schedule_doubles_with_jitter_up_to_its_cap(attempt: int) -> None:
    worker = HubDeliveryWorker.__new__(HubDeliveryWorker)
    worker.backoff = Backoff(initial_s=5.0, max_s=1800.0, jitter=0.3)
    base = min(1800.0, 5.0 * 2 ** (attempt - 1))
    delay = worker.backoff.delay(attempt)
    assert base * 0.7 <= delay <= base


def test_the_default_retry_window_is_a_day_and_retries_keep_coming_through_it() -> None:
    settings = HubSettings()
    assert settings.hub_retry_window_h >= 24
    backoff = Backoff(initial_s=settings.hub_retry_initial_s, max_s=settings.hub_retry_max_s, jitter=0.3)
    elapsed, attempts = 0.0, 0
    while elapsed < 24 * 3600:
        attempts += 1
        elapsed += backoff.delay(attempts)
    # capped at 30 min: about 48+ tries in the day, none more than HUB_RETRY_MAX_S apart
    assert attempts >= 48


# -- breaker -----------------------------------------------------------------------------------------
def test_the_breaker_opens_after_failures_in_a_row_then_half_opens_then_closes() -> None:
    b = Breaker(failure_threshold=3, reset_s=10)
    assert b.state(0) == CLOSED
    assert not b.record_failure(1) and not b.record_failure(2)
    b.record_success()  # a success in between resets the count
    assert not b.record_failure(3) and not b.record_failure(4)
    assert b.record_failure(5)
    assert b.state(6) == OPEN and not b.allows(14.9)
    assert b.state(15) == HALF_OPEN and b.allows(15)
    assert b.record_failure(16)  # a failed trial re-opens at once
    assert b.state(20) == OPEN and b.reopens_at() == 26
    b.record_success()
    assert b.state(21) == CLOSED


# -- query and ids -----------------------------------------------------------------------------------
def _event(event_type: str, **attrs: str) -> HubEvent:
    return HubEvent(uuid.uuid4(), event_type, "ord_1", uuid.uuid4(), {}, attrs)


def test_a_query_filters_by_event_type_and_attributes() -> None:
    q = parse_query("eventType=productOrderStateChangeEvent,productOrderCreateEvent&event.productOrder.state=completed")
    assert q.matches(_event("productOrderStateChangeEvent", **{"productOrder.state": "completed"}))
    assert not q.matches(_event("productOrderStateChangeEvent", **{"productOrder.state": "inProgress"}))
    assert not q.matches(_event("productOrderDeleteEvent", **{"productOrder.state": "completed"}))
    assert parse_query(None).matches(_event("anything"))
    assert parse_query("eventType = productOrderCreateEvent").matches(_event("productOrderCreateEvent"))


def test_a_query_the_hub_cannot_honour_is_refused_naming_query() -> None:
    for bad in ("eventType", "eventType=", "=x", "eventType=nopeEvent"):
        with pytest.raises(Invalid) as caught:
            parse_query(bad, event_types=frozenset({"productOrderCreateEvent"}))
        assert caught.value.field == "query", bad


def test_event_ids_are_deterministic_per_source_event_and_type() -> None:
    source = uuid.uuid4()
    assert hub_event_id(source, "productOrderCreateEvent") == hub_event_id(str(source), "productOrderCreateEvent")
    assert hub_event_id(source, "productOrderCreateEvent") != hub_event_id(source, "productOrderStateChangeEvent")
