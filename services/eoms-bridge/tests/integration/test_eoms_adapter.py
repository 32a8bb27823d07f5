"""The external-EOMS adapter against a real HTTP server on loopback with programmable faults:
retries, timeouts, 5xx bursts, the circuit breaker, the durable forward queue and the callbacks."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from backbone.events import OrderItem, OrderSubmitted
from backbone.ids import new_id
from devtools.infra import free_port
from eoms_bridge.adapter.client import (
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    EomsClient,
    EomsRejectedError,
    EomsUnavailableError,
)
from eoms_bridge.adapter.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, actor_id_of, signed_headers
from eoms_bridge.main import build_app
from eoms_bridge.models import eoms_callbacks, forward_queue, tickets
from eoms_bridge.services import tickets as ticket_service
from eoms_bridge.settings import DEV_EOMS_CALLBACK_SECRET, DEV_EOMS_PARTNER, EomsSettings
from tests.support.kafka_tools import eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")


class FakeEoms:
    """A real HTTP server. `faults` is consumed one per request: an int status, or ("sleep", s);
    when empty, `default` applies (None = 200 with an id)."""

    def __init__(self) -> None:
        self.faults: deque[Any] = deque()
        self.default: Any = None
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.token = new_id("x")[-6:]  # ids unique across runs, like a real EOMS's
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                with fake.lock:
                    fake.received.append((self.path, body))
                    fault = fake.faults.popleft() if fake.faults else fake.default
                    n = len(fake.received)
                if isinstance(fault, tuple) and fault[0] == "sleep":
                    time.sleep(fault[1])
                    fault = None
                status = fault if isinstance(fault, int) else 200
                out = json.dumps({"id": f"EOMS-{fake.token}-{n}"} if status < 400 else {"error": "fault"}).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeEoms:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def count(self) -> int:
        with self.lock:
            return len(self.received)


@pytest.fixture
def fake() -> Iterator[FakeEoms]:
    f = FakeEoms().start()
    yield f
    f.stop()


def client(fake: FakeEoms, **kw: Any) -> EomsClient:
    breaker = kw.pop("breaker", None) or CircuitBreaker(failure_threshold=3, reset_timeout_s=0.4)
    return EomsClient(fake.url, timeout_s=kw.pop("timeout_s", 0.3), max_attempts=kw.pop("max_attempts", 3),
                      backoff_initial_s=0.01, backoff_max_s=0.05, breaker=breaker, **kw)


async def test_a_5xx_burst_is_retried_with_backoff(fake: FakeEoms) -> None:
    fake.faults.extend([503, 502])
    c = client(fake)
    try:
        assert await c.send("/tickets", {"ticket_id": "t1"}) == {"id": f"EOMS-{fake.token}-3"}
        assert fake.count() == 3 and c.breaker.state is BreakerState.CLOSED
    finally:
        await c.aclose()


async def test_timeouts_give_up_after_the_attempts_and_4xx_is_not_retried(fake: FakeEoms) -> None:
    fake.faults.extend([("sleep", 1.0)] * 3)
    c = client(fake, breaker=CircuitBreaker(failure_threshold=10))
    try:
        started = time.monotonic()
        with pytest.raises(EomsUnavailableError, match="timeout"):
            await c.send("/tickets", {"ticket_id": "t1"})
        assert 0.9 < time.monotonic() - started < 2.5 and fake.count() == 3
        fake.faults.append(422)
        with pytest.raises(EomsRejectedError):
            await c.send("/tickets", {"ticket_id": "t2"})
        assert fake.count() == 4, "a 4xx is an answer, not a fault: no retry"
        assert c.breaker.state is BreakerState.CLOSED
    finally:
        await c.aclose()


async def test_breaker_opens_fails_fast_half_opens_and_closes(fake: FakeEoms) -> None:
    fake.default = 503
    c = client(fake)
    try:
        with pytest.raises(EomsUnavailableError):
            await c.send("/tickets", {"n": 1})
        assert c.breaker.state is BreakerState.OPEN and fake.count() == 3
        with pytest.raises(CircuitOpenError):
            await c.send("/tickets", {"n": 2})
        assert fake.count() == 3, "an open circuit sends nothing"
        await asyncio.sleep(0.45)
        assert c.breaker.state is BreakerState.HALF_OPEN
        with pytest.raises(CircuitOpenError):  # the one trial fails: open again, no second try
            await c.send("/tickets", {"n": 3})
        assert fake.count() == 4 and c.breaker.state is BreakerState.OPEN
        fake.default = None
        await asyncio.sleep(0.45)
        assert await c.send("/tickets", {"n": 4}) == {"id": f"EOMS-{fake.token}-5"}
        assert c.breaker.state is BreakerState.CLOSED
        assert c.breaker.transitions == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.OPEN,
                                         BreakerState.HALF_OPEN, BreakerState.CLOSED]
    finally:
        await c.aclose()


@pytest.fixture
async def adapter_app(infra: Any, fake: FakeEoms) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    settings = EomsSettings(
        database_url=infra.database_url, kafka_bootstrap_servers=infra.kafka_bootstrap, environment="test",
        consumer_group=f"eoms-adapter-{new_id('t')}", run_consumers=False, eoms_url=fake.url, eoms_timeout_s=0.3,
        eoms_max_attempts=2, eoms_backoff_initial_s=0.01, eoms_breaker_failures=4, eoms_breaker_reset_s=0.3,
        eoms_forward_poll_s=0.05, eoms_forward_retry_initial_s=0.05, eoms_forward_retry_max_s=0.2,
        eoms_callback_partners={DEV_EOMS_PARTNER: DEV_EOMS_CALLBACK_SECRET, OTHER_PARTNER: OTHER_SECRET},
    )
    app = build_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://eoms-bridge") as http:
        yield http, app


async def test_tickets_are_forwarded_durably_and_callbacks_drive_them(
        infra: Any, fake: FakeEoms, adapter_app: tuple[httpx.AsyncClient, Any]) -> None:
    http, app = adapter_app
    runtime = app.state.runtime
    bridge = runtime.context  # EomsContext
    fake.default = 503  # the EOMS is down when the order arrives
    o = OrderSubmitted(
        order_id=new_id("ord"), channel="web_portal", submitted_at=datetime.now(UTC), customer_id="cus_eoms_ad",
        customer_name="港务局", customer_tier="B", account_manager_id="am_ad",
        items=[OrderItem(item_id=new_id("itm"), product="vpmn", business_kind="opening",
                         business_type="vpmn.opening")])
    store = bridge.store  # synced with the definitions table at start
    async with runtime.session_factory() as s, s.begin():
        (tid,) = await ticket_service.open_tickets_for_order(s, store=store, order=o, now=datetime.now(UTC),
                                                             forward=True, eoms_partner=bridge.eoms_partner)

    async def attempts() -> int:
        async with runtime.session_factory() as s:
            row = (await s.execute(select(forward_queue).where(forward_queue.c.ticket_id == tid))).mappings().one()
        return int(row["attempts"]) if row["sent_at"] is None else 0

    await eventually(lambda: _ge(attempts, 2), timeout_s=10, what="failed forward attempts recorded")
    fake.default = None  # the EOMS comes back: the queued forward goes out (breaker half-open → closed)

    async def delivered() -> str | None:
        async with runtime.session_factory() as s:
            return (await s.execute(select(tickets.c.external_ref).where(tickets.c.id == tid))).scalar()

    ref = await eventually(delivered, timeout_s=10, what="forward delivered")
    bodies = [b for (p, b) in fake.received if p == "/tickets" and b.get("ticket_id") == tid]
    assert bodies[-1]["type"] == "ticket.created" and bodies[-1]["message_id"].startswith(f"{tid}:")
    assert bodies[-1]["business_type"] == "vpmn.opening" and bodies[-1]["customer_tier"] == "B"
    assert bridge.client.breaker.state is BreakerState.CLOSED

    cb = "/api/v1/eoms/callbacks"
    accept = {"callback_id": new_id("cb"), "ticket_id": ref, "action": "accept", "actor_id": "eoms_ops_1"}
    assert (await http.post(cb, json=accept)).status_code == 401
    assert (await signed_post(http, accept, secret="wrong-secret-" + "x" * 32)).status_code == 401
    r = await signed_post(http, accept)
    assert r.status_code == 200 and r.json()["status"] == "applied" and r.json()["state"] == "in_progress"
    start = r.json()["node"]
    complete = {"callback_id": new_id("cb"), "ticket_id": tid, "action": "complete", "actor_id": "eoms_ops_1",
                "outcome": "accepted"}
    r = await signed_post(http, complete)
    assert r.status_code == 200 and r.json()["node"] != start, r.text
    version = r.json()["version"]
    again = await signed_post(http, complete, now=time.time() + 1)  # a redelivery, signed again
    assert again.json()["status"] == "duplicate"
    sup = {"Authorization": "Bearer " + _token("sup_ad", "supervisor")}
    t = (await http.get(f"/api/v1/tickets/{tid}", headers=sup)).json()
    # The actor is the signing partner, never the body's actor_id (recorded as the reported operator).
    assert t["version"] == version and t["nodes"][0]["assignee"] == actor_id_of(DEV_EOMS_PARTNER)
    async with runtime.session_factory() as s:
        reported = (await s.execute(select(eoms_callbacks.c.partner, eoms_callbacks.c.reported_actor).where(
            eoms_callbacks.c.callback_id == accept["callback_id"]))).one()
    assert tuple(reported) == (DEV_EOMS_PARTNER, "eoms_ops_1")
    bad = {**complete, "callback_id": new_id("cb"), "outcome": "nope"}
    r = await signed_post(http, {**bad, "action": "accept", "actor_id": "eoms_ops_2"})
    assert r.status_code == 200
    r = await signed_post(http, {**bad, "actor_id": "eoms_ops_2", "callback_id": new_id("cb")})
    assert r.status_code == 422


async def test_callbacks_are_signed_per_partner_within_a_replay_window(
        infra: Any, fake: FakeEoms, adapter_app: tuple[httpx.AsyncClient, Any]) -> None:
    """docs/security.md, item 3: valid signature; wrong secret, unknown partner, stale or future timestamp,
    replayed signature, tampered body: 401 before the body is validated; actor_roles in the body: 422."""
    http, app = adapter_app
    runtime = app.state.runtime
    o = OrderSubmitted(
        order_id=new_id("ord"), channel="web_portal", submitted_at=datetime.now(UTC), customer_id="cus_eoms_ad",
        customer_name="港务局", customer_tier="B", account_manager_id="am_ad",
        items=[OrderItem(item_id=new_id("itm"), product="vpmn", business_kind="opening",
                         business_type="vpmn.opening")])
    async with runtime.session_factory() as s, s.begin():
        (tid,) = await ticket_service.open_tickets_for_order(s, store=runtime.context.store, order=o,
                                                             now=datetime.now(UTC), forward=True,
                                                             eoms_partner=runtime.context.eoms_partner)
    accept = {"callback_id": new_id("cb"), "ticket_id": tid, "action": "accept"}
    raw = json.dumps(accept).encode()
    now = time.time()
    window = runtime.context.settings.eoms_callback_window_s

    async def post(body: bytes, headers: dict[str, str]) -> httpx.Response:
        return await http.post(CALLBACKS, content=body, headers={**headers, "content-type": "application/json"})

    good = signed_headers(DEV_EOMS_PARTNER, DEV_EOMS_CALLBACK_SECRET, raw, now=now)
    refused = {
        "wrong secret": (raw, signed_headers(DEV_EOMS_PARTNER, "another-secret-" + "x" * 32, raw, now=now)),
        "unknown partner": (raw, signed_headers("someone-else", DEV_EOMS_CALLBACK_SECRET, raw, now=now)),
        "stale timestamp": (raw, signed_headers(DEV_EOMS_PARTNER, DEV_EOMS_CALLBACK_SECRET, raw,
                                                now=now - window - 5)),
        "timestamp ahead": (raw, signed_headers(DEV_EOMS_PARTNER, DEV_EOMS_CALLBACK_SECRET, raw,
                                                now=now + window + 5)),
        "body tampered": (raw.replace(b'"accept"', b'"cancel"'), good),
        "timestamp changed": (raw, {**good, TIMESTAMP_HEADER: str(int(now) - 1)}),
        "no signature": (raw, {k: v for k, v in good.items() if k != SIGNATURE_HEADER}),
        "invalid body, unsigned": (b'{"callback_id": ""}', {}),  # the signature is checked before validation
    }
    for case, (body, headers) in refused.items():
        r = await post(body, headers)
        assert r.status_code == 401, (case, r.text)
        assert r.headers["content-type"] == "application/problem+json" and tid not in r.text, case
    # Another partner, validly signed, acts only on its own tickets and nodes: this one is not found (issue 13).
    other = json.dumps({**accept, "callback_id": new_id("cb")}).encode()
    r = await post(other, signed_headers(OTHER_PARTNER, OTHER_SECRET, other, now=now))
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json", r.text
    assert set(r.json()) <= {"type", "title", "status", "detail", "instance", "code"} and "am_ad" not in r.text
    r = await post(raw, good)
    assert r.status_code == 200 and r.json()["status"] == "applied", r.text
    assert r.json()["actor"] == actor_id_of(DEV_EOMS_PARTNER)
    replay = await post(raw, good)
    assert replay.status_code == 401 and "replay" in replay.json()["detail"]
    # A body that claims roles is refused: the partner works the current node's role, nothing else.
    claim = json.dumps({**accept, "callback_id": new_id("cb"), "actor_roles": ["supervisor"]}).encode()
    r = await post(claim, signed_headers(DEV_EOMS_PARTNER, DEV_EOMS_CALLBACK_SECRET, claim, now=time.time()))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "actor_roles"
    async with runtime.session_factory() as s:
        row = (await s.execute(select(tickets.c.assignee, tickets.c.state).where(tickets.c.id == tid))).one()
    assert tuple(row) == (actor_id_of(DEV_EOMS_PARTNER), "in_progress"), "only the one valid callback applied"


async def test_a_queued_forward_survives_a_restart(infra: Any, fake: FakeEoms) -> None:
    """The forward row is written with the ticket: stop the bridge before it can deliver, start a new
    one, and the forward still goes out."""
    fake.default = 503
    settings_kw = dict(
        database_url=infra.database_url, kafka_bootstrap_servers=infra.kafka_bootstrap, environment="test",
        run_consumers=False, eoms_url=fake.url, eoms_timeout_s=0.3, eoms_max_attempts=1,
        eoms_breaker_failures=100, eoms_forward_poll_s=0.05, eoms_forward_retry_initial_s=0.05,
        eoms_forward_retry_max_s=0.1)
    app = build_app(EomsSettings(**settings_kw))  # type: ignore[arg-type]
    o = OrderSubmitted(
        order_id=new_id("ord"), channel="web_portal", submitted_at=datetime.now(UTC), customer_id="cus_eoms_ad",
        customer_name="港务局", customer_tier="C", account_manager_id="am_ad",
        items=[OrderItem(item_id=new_id("itm"), product="m2m", business_kind="cancellation",
                         business_type="m2m.cancellation")])
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        store = runtime.context.store
        async with runtime.session_factory() as s, s.begin():
            (tid,) = await ticket_service.open_tickets_for_order(s, store=store, order=o, now=datetime.now(UTC),
                                                                 forward=True)
        await eventually(lambda: _async(any(b.get("ticket_id") == tid for _, b in fake.received)),
                         timeout_s=5, what="a first (failing) attempt")
    fake.default = None
    app2 = build_app(EomsSettings(**settings_kw))  # type: ignore[arg-type]
    async with app2.router.lifespan_context(app2):
        async def sent() -> bool:
            async with app2.state.runtime.session_factory() as s:
                return bool((await s.execute(select(forward_queue.c.sent_at).where(
                    forward_queue.c.ticket_id == tid))).scalar())

        await eventually(sent, timeout_s=10, what="forward delivered by the restarted bridge")


CALLBACKS = "/api/v1/eoms/callbacks"
OTHER_PARTNER, OTHER_SECRET = "huawei", "huawei-callback-secret-" + "x" * 32


async def signed_post(http: httpx.AsyncClient, body: dict[str, Any], *, secret: str = DEV_EOMS_CALLBACK_SECRET,
                      now: float | None = None) -> httpx.Response:
    """A callback as the dev partner's EOMS sends it: the body signed with its secret and a timestamp."""
    raw = json.dumps(body).encode()
    headers = signed_headers(DEV_EOMS_PARTNER, secret, raw, now=time.time() if now is None else now)
    return await http.post(CALLBACKS, content=raw, headers={**headers, "content-type": "application/json"})


async def _ge(check: Any, n: int) -> bool:
    return bool(await check() >= n)


async def _async(value: bool) -> bool:
    return value


def _token(sub: str, *roles: str) -> str:
    from backbone.auth import issue_token
    from backbone.settings import DEV_JWT_SECRET

    return issue_token(sub, list(roles), secret=DEV_JWT_SECRET)
