"""Drills on the whole stack: the four services as real processes (`devtools.suite.ServiceProcess`,
two replicas of a consumer service where the drill needs them), a real SMTP server and the SMSC, real
PostgreSQL and Apache Kafka of the drill profile. Orders are posted over HTTP at a steady rate while
the fault happens; then the auditor counts at the edges, scoped to this drill's orders:

- every order acknowledged (HTTP 201) → exactly one ticket (eoms.tickets by origin);
- every ticket → exactly one timer on its node (sla.timers), which warns, breaches and escalates
  twice under the short test policy: exactly one alert per (timer, action) (sla.alerts), and every
  timer's breach and both escalations fired once the load drained (an alert never fired is lost;
  a warning may be superseded by a breach due with it, as the domain decides);
- every alert → a notify decision per recipient (an alert with none is lost);
- every delivery notify marked sent → exactly one e-mail at the SMTP server (by its X-Delivery-Id)
  or one SMS at the SMSC (every part's message id among the parts the SMSC took; copies by
  destination and text); a copy of a delivery flagged `uncertain` is the documented window (counted
  apart), any other copy is a duplicate; a delivery still queued or retrying after the drain is lost.

Recovery: from the end of the fault until a ticket exists for an order acknowledged after it
(SMTP/SMSC down: until the server received a message again).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from backbone.auth import issue_token
from backbone.release import migrate_all
from backbone.settings import DEV_JWT_SECRET
from devtools import infra as infra_mod
from devtools.drills.callbacks import CallbackCounts, HubTap
from devtools.drills.common import Result, kafka_freeze, kafka_kill, kafka_start, pg_start, pg_stop, say
from devtools.drills.proxy import TcpProxy
from devtools.infra import PROJECT_ROOT, Infra, drill_proxy_ports, free_port
from devtools.smsc import SmscThread, start_in_thread
from devtools.smtp import SmtpServer
from devtools.suite import ServiceProcess, spec

ORDERS_PER_S = 1.5
ORDER = {"customer_id": "cus_tj_port", "channel": "account_manager", "submit": True,
         "items": [{"product": "dedicated_line_data", "business_kind": "opening",
                    "attributes": {"bandwidth_mbps": 100, "a_end_address": "A", "z_end_address": "Z"}}]}
#: The suite's four services (devtools.suite.SERVICES may list more; these are the ones the invariants count).
STACK_SERVICES = ("crm", "eoms-bridge", "sla", "notify")
ALERT_TYPES = ("sla.warning", "sla.breached", "sla.escalated")
# Every timer breaches and escalates twice (tests/fixtures/sla_policy_short.yaml); its warning is
# optional: the domain marks it superseded when the breach is due with it (a late scan).
REQUIRED_ACTIONS = frozenset({"breach", "escalation:1", "escalation:2"})


def stack_env(infra: Infra) -> dict[str, str]:
    """The services' environment: the test suite's (conftest `suite_env`): limits of seconds, so
    every ticket's timer warns, breaches and escalates twice within a drill."""
    fixtures = PROJECT_ROOT / "tests" / "fixtures"
    return {
        **infra.env(),
        "ENVIRONMENT": "test",
        "SLA_POLICY_FILE": str(fixtures / "sla_policy_short.yaml"),
        "SLA_WORKFLOW_CATALOG_EXTRA": f'["{fixtures / "sla_catalog_slatest.yaml"}"]',
        "CONSUMER_BACKOFF_INITIAL_S": "0.05",
        "RATE_LIMIT": "10000",
        "DIGEST_WINDOW_S": "3",
        "DEDUP_WINDOW_S": "3",
        # A TMF callback whose answer the hub never recorded (the CRM killed mid-call) is due again after
        # this lease (120 s by default): the drills wait for it, not for the default.
        "HUB_LEASE_S": "10",
    }


class Stack:
    """The services (a list of replicas each), the SMTP server and the SMSC, started for one drill."""

    def __init__(self, infra: Infra, profile: infra_mod.InfraProfile, name: str) -> None:
        self.infra = infra
        self.name = name
        self.logs = profile.data_dir / "logs" / name
        self.logs.mkdir(parents=True, exist_ok=True)
        for old in self.logs.glob("*.log"):  # this run's logs only
            old.unlink()
        self.smtp_port = free_port()
        self.smtp = SmtpServer(port=self.smtp_port, echo=False)
        self.smsc: SmscThread | None = None
        self.env = stack_env(infra)
        self.procs: dict[str, list[ServiceProcess]] = {}
        self.service_env: dict[str, dict[str, str]] = {}  # one service's own settings (a proxied broker)

    def start(self, replicas: dict[str, int] | None = None) -> Stack:
        from devtools.demo import seed

        migrate_all(self.infra.database_url)
        seed(self.infra.database_url)
        self.smtp.start()
        self.smsc = start_in_thread(port=free_port())
        self.env |= {"SMTP_URL": self.smtp.url, "SMPP_URL": self.smsc.url}
        try:
            for name in STACK_SERVICES:
                for _ in range((replicas or {}).get(name, 1)):
                    self.add(name, wait=False)
            for procs in self.procs.values():
                for p in procs:
                    p.wait_ready(90)
        except BaseException:
            self.stop()
            raise
        return self

    def add(self, service: str, *, wait: bool = True, env: dict[str, str] | None = None) -> ServiceProcess:
        procs = self.procs.setdefault(service, [])
        log = self.logs / f"{service}-{len(procs)}.log"
        env = self.env | self.service_env.get(service, {}) | (env or {})
        p = ServiceProcess(spec(service), env, free_port(), log).start(wait=wait, timeout=90)
        procs.append(p)
        return p

    def url(self, service: str) -> str:
        return self.procs[service][0].url

    def smtp_down(self) -> None:
        self.smtp.controller.stop()

    def smtp_up(self) -> None:
        # A new listener on the same port, recording into the same handler.
        self.smtp.controller = Controller(self.smtp.handler, hostname=self.smtp.host, port=self.smtp_port)
        self.smtp.controller.start()

    def stop(self) -> None:
        for procs in self.procs.values():
            for p in procs:
                if p.proc and p.proc.poll() is None:
                    p.proc.terminate()
        for procs in self.procs.values():
            for p in procs:
                p.stop()
        with contextlib.suppress(Exception):
            self.smtp.stop()
        if self.smsc:
            self.smsc.stop()


@dataclass
class OrderLoad:
    """Orders posted at a steady rate, each in its own request (open loop: a dead CRM slows nothing)."""

    url: Callable[[], str]
    rate: float = ORDERS_PER_S
    acknowledged: dict[str, float] = field(default_factory=dict)  # order id → monotonic time of the 201
    statuses: Counter[str] = field(default_factory=Counter)

    async def run(self, stop: asyncio.Event) -> None:
        token = issue_token("am_zhang", ["account_manager"], secret=DEV_JWT_SECRET)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(timeout=15, headers=headers) as http:

            async def one() -> None:
                try:
                    r = await http.post(f"{self.url()}/api/v1/orders", json=ORDER)
                except httpx.HTTPError as exc:
                    self.statuses[f"no answer ({type(exc).__name__})"] += 1
                    return
                self.statuses[str(r.status_code)] += 1
                if r.status_code == 201:
                    self.acknowledged[r.json()["id"]] = time.monotonic()

            tasks: list[asyncio.Task[None]] = []
            start = time.monotonic()
            i = 0
            while not stop.is_set():
                tasks.append(asyncio.create_task(one()))
                i += 1
                await asyncio.sleep(max(0.0, start + i / self.rate - time.monotonic()))
            await asyncio.gather(*tasks)

    def since(self, t: float) -> list[str]:
        return [o for o, at in self.acknowledged.items() if at >= t]


# ---------------------------------------------------------------- the auditor


@dataclass
class Counts:
    orders: int = 0
    tickets_missing: int = 0
    tickets_duplicated: int = 0
    timers_missing: int = 0
    timers_duplicated: int = 0
    alerts_missing: int = 0
    alerts_duplicated: int = 0
    alerts_unnotified: int = 0
    alerts_early: int = 0  # fired before they were due, by the database's clock
    deliveries_sent: int = 0
    deliveries_pending: int = 0
    deliveries_failed: int = 0
    received_missing: int = 0
    received_duplicated: int = 0
    received_duplicated_flagged: int = 0
    sms_garbled: int = 0  # every part reached the SMSC, yet the phone never got the text whole
    mails: int = 0
    sms: int = 0
    dead_lettered: int = 0
    unpublished: dict[str, int] = field(default_factory=dict)  # outbox rows of this drill unsent at the count
    ticket_ids: list[str] = field(default_factory=list)
    callbacks: CallbackCounts = field(default_factory=CallbackCounts)  # TMF622 callbacks at the listener

    @property
    def lost(self) -> int:
        return (self.tickets_missing + self.timers_missing + self.alerts_missing + self.alerts_unnotified
                + self.deliveries_pending + self.deliveries_failed + self.received_missing + self.callbacks.missing)

    @property
    def duplicated(self) -> int:
        return (self.tickets_duplicated + self.timers_duplicated + self.alerts_duplicated + self.received_duplicated
                + self.callbacks.duplicated)

    @property
    def settled(self) -> bool:
        return self.lost == 0


class Auditor:
    def __init__(self, database_url: str, stack: Stack, hub: HubTap | None = None) -> None:
        self.engine: AsyncEngine = create_async_engine(database_url, poolclass=NullPool)
        self.stack = stack
        self.hub = hub
        self.started_at: Any = None  # the database's clock when the drill began: scopes the deliveries

    async def begin(self) -> None:
        async with self.engine.connect() as conn:
            self.started_at = (await conn.execute(text("SELECT clock_timestamp()"))).scalar_one()

    async def tickets_for(self, orders: list[str]) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(text(
                "SELECT count(DISTINCT origin_id) FROM eoms.tickets WHERE origin_id = ANY(:ids)"),
                {"ids": orders})).scalar_one())

    async def timers_for(self, orders: list[str]) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(text(
                "SELECT count(*) FROM sla.timers tm JOIN eoms.tickets t ON tm.ticket_id = t.id"
                " WHERE t.origin_id = ANY(:ids)"), {"ids": orders})).scalar_one())

    async def unsent(self, schema: str) -> int:
        """Outbox rows of `schema` written since the drill began and not yet published."""
        async with self.engine.connect() as conn:
            return int((await conn.execute(text(
                f"SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL AND created_at >= :t0"),
                {"t0": self.started_at})).scalar_one())

    async def count(self, orders: list[str]) -> Counts:
        c = Counts(orders=len(orders))
        async with self.engine.connect() as conn:
            per_order: dict[str, int] = dict((await conn.execute(text(
                "SELECT origin_id, count(*) FROM eoms.tickets WHERE origin_id = ANY(:ids) GROUP BY origin_id"),
                {"ids": orders})).all())
            c.tickets_missing = sum(1 for o in orders if o not in per_order)
            c.tickets_duplicated = sum(n - 1 for n in per_order.values())
            tickets = list((await conn.execute(text(
                "SELECT id FROM eoms.tickets WHERE origin_id = ANY(:ids)"), {"ids": orders})).scalars())
            c.ticket_ids = tickets
            timers = (await conn.execute(text(
                "SELECT t.id AS ticket_id, count(tm.id) AS n, max(tm.escalation_level) AS level"
                " FROM eoms.tickets t LEFT JOIN sla.timers tm ON tm.ticket_id = t.id AND tm.node = t.current_node"
                " WHERE t.id = ANY(:ids) GROUP BY t.id"), {"ids": tickets})).all()
            c.timers_missing = sum(1 for r in timers if r.n == 0)
            c.timers_duplicated = sum(r.n - 1 for r in timers if r.n > 1)
            alerts = (await conn.execute(text(
                "SELECT timer_id, action, count(*) AS n FROM sla.alerts"
                " WHERE ticket_id = ANY(:ids) AND event_type = ANY(:types) GROUP BY timer_id, action"),
                {"ids": tickets, "types": list(ALERT_TYPES)})).all()
            c.alerts_duplicated = sum(r.n - 1 for r in alerts)
            fired: dict[str, set[str]] = {}
            for r in alerts:
                fired.setdefault(r.timer_id, set()).add(r.action)
            timer_ids = list((await conn.execute(text(
                "SELECT tm.id FROM sla.timers tm JOIN eoms.tickets t"
                " ON tm.ticket_id = t.id AND tm.node = t.current_node WHERE t.id = ANY(:ids)"),
                {"ids": tickets})).scalars())
            c.alerts_missing = sum(len(REQUIRED_ACTIONS - fired.get(t, set())) for t in timer_ids)
            c.alerts_early = int((await conn.execute(text(
                "SELECT count(*) FROM sla.alerts WHERE ticket_id = ANY(:ids) AND event_type = ANY(:types)"
                " AND due_at IS NOT NULL AND fired_at < due_at"),
                {"ids": tickets, "types": list(ALERT_TYPES)})).scalar_one())
            c.alerts_unnotified = int((await conn.execute(text(
                "SELECT count(*) FROM sla.alerts a WHERE a.ticket_id = ANY(:ids) AND a.event_type = ANY(:types)"
                " AND NOT EXISTS (SELECT 1 FROM notify.decisions d WHERE d.source_event_id = a.event_id::text)"),
                {"ids": tickets, "types": list(ALERT_TYPES)})).scalar_one())
            deliveries = (await conn.execute(text(
                "SELECT id, channel, address, body, status, provider_message_id,"
                " coalesce((meta->>'uncertain')::boolean, false) AS uncertain"
                " FROM notify.deliveries WHERE (ticket_id = ANY(:ids) OR (ticket_id IS NULL AND created_at >= :t0))"),
                {"ids": tickets, "t0": self.started_at})).all()
            for schema in ("crm", "eoms", "sla", "notify"):
                n = int((await conn.execute(text(
                    f"SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL AND created_at >= :t0"),
                    {"t0": self.started_at})).scalar_one())
                if n:
                    c.unpublished[schema] = n
            if self.hub is not None:
                c.callbacks = await self.hub.count(conn, orders)
        mails = Counter(m.headers.get("X-Delivery-Id", "") for m in list(self.stack.smtp.handler.messages))
        sms = Counter((m.destination, m.text) for m in (self.stack.smsc.messages if self.stack.smsc else []))
        # Every part the SMSC took, by the message id it answered with (notify keeps them all).
        sms_parts = {p.message_id for p in (list(self.stack.smsc.simulator.parts) if self.stack.smsc else [])}
        c.mails, c.sms = sum(mails.values()), sum(sms.values())
        expected_sms: Counter[tuple[str, str]] = Counter()
        flagged_sms: set[tuple[str, str]] = set()
        for d in deliveries:
            if d.status in ("queued", "retrying", "sending"):
                c.deliveries_pending += 1
            elif d.status == "failed":
                c.deliveries_failed += 1
            elif d.status in ("sent", "delivered"):
                c.deliveries_sent += 1
                if d.channel == "email":
                    got = mails.get(d.id, 0)
                    c.received_missing += got == 0
                    if got > 1:
                        if d.uncertain:
                            c.received_duplicated_flagged += got - 1
                        else:
                            c.received_duplicated += got - 1
                else:
                    ids = [i for i in (d.provider_message_id or "").split(",") if i]
                    c.received_missing += not ids or any(i not in sms_parts for i in ids)
                    expected_sms[(d.address, d.body)] += 1
                    if d.uncertain:
                        flagged_sms.add((d.address, d.body))
        for key, want in expected_sms.items():  # copies: the same text to the same phone more often than sent
            got = sms.get(key, 0)
            # Fewer whole texts than sent while every part was taken: the handset (the SMSC's reassembly
            # by sender, phone and 8-bit concatenation reference) joined parts of two messages.
            c.sms_garbled += max(0, want - got)
            if got > want:
                if key in flagged_sms:
                    c.received_duplicated_flagged += got - want
                else:
                    c.received_duplicated += got - want
        return c

    async def settle(self, orders: list[str], *, quiet_s: float = 45, within_s: float = 300) -> tuple[Counts, bool]:
        """Count until nothing is missing (every alert fired, notified, received), or nothing moved
        for `quiet_s` (what is still missing then is stuck: lost), or `within_s` passed."""
        started = moved = time.monotonic()
        last: tuple[int, ...] | None = None
        while True:
            try:
                counts = await self.count(orders)
            except Exception as exc:  # noqa: BLE001 - the database may still be coming back
                say(f"audit: {exc!r}")
                await asyncio.sleep(1)
                continue
            now = time.monotonic()
            progress = (counts.lost, counts.deliveries_sent, counts.mails, counts.sms, sum(counts.unpublished.values()),
                        counts.callbacks.received)
            if progress != last:
                last, moved = progress, now
            if counts.settled or now - moved > quiet_s or now - started > within_s:
                return counts, counts.settled
            await asyncio.sleep(1)

    async def close(self) -> None:
        await self.engine.dispose()


async def recovery_after(audit: Auditor, load: OrderLoad, since: float, within_s: float = 120,
                         *, timer: bool = False) -> float | None:
    """Seconds from `since` (the fault's end) until an order acknowledged after it has its ticket (with
    `timer`: its SLA timer, one hop further: the ticket's event relayed and consumed)."""
    while time.monotonic() - since < within_s:
        after = load.since(since)
        if after:
            with contextlib.suppress(Exception):
                if await (audit.timers_for(after) if timer else audit.tickets_for(after)) > 0:
                    return time.monotonic() - since
        await asyncio.sleep(0.25)
    return None


async def received_again_after(stack: Stack, since: float, before: int, within_s: float = 120) -> float | None:
    """Seconds from `since` until the SMTP server or the SMSC received a message beyond `before`."""
    while time.monotonic() - since < within_s:
        if len(stack.smtp.handler.messages) + len(stack.smsc.messages if stack.smsc else []) > before:
            return time.monotonic() - since
        await asyncio.sleep(0.25)
    return None


# ---------------------------------------------------------------- the drills


Fault = Callable[["Stack", "OrderLoad", "Auditor", Result], Awaitable[float | None]]


async def run_stack_drill(infra: Infra, profile: infra_mod.InfraProfile, name: str, fault_text: str,
                          fault: Fault, *, before_s: float = 8, after_s: float = 8,
                          replicas: dict[str, int] | None = None, rate: float = ORDERS_PER_S,
                          service_env: dict[str, dict[str, str]] | None = None) -> Result:
    """Start the stack (`service_env`: one service's own settings), register the TMF listener, post
    orders, run `fault` `before_s` into the load (it returns the recovery time, measured while the load
    goes on), post `after_s` more, settle and count."""
    stack = Stack(infra, profile, name)
    stack.service_env = service_env or {}
    await asyncio.to_thread(stack.start, replicas)
    hub = HubTap()
    audit = Auditor(infra.database_url, stack, hub)
    reps = ", ".join(f"{n} × {s}" for s, n in (replicas or {}).items() if n > 1)
    result = Result(name, fault_text, "", relay_duplicates=None)
    try:
        await hub.start(stack.url("crm"))
        await audit.begin()
        load = OrderLoad(lambda: stack.url("crm"), rate)
        stop = asyncio.Event()
        began = time.monotonic()
        posting = asyncio.create_task(load.run(stop))
        await asyncio.sleep(before_s)
        result.recovery_s = await fault(stack, load, audit, result)
        await asyncio.sleep(after_s)
        stop.set()
        await posting
        result.load = (f"{rate:g} orders/s over HTTP, {time.monotonic() - began:.0f} s; the four services as"
                       f" processes{f' ({reps})' if reps else ''}")
        counts, settled = await audit.settle(list(load.acknowledged))
        _fill(result, load, counts)
        if counts.alerts_early:
            result.failed_checks.append(f"{counts.alerts_early} alerts fired before they were due")
        if counts.callbacks.bad_signatures:
            result.failed_checks.append(f"{counts.callbacks.bad_signatures} TMF callbacks with a bad signature")
        if not settled:
            result.notes.append("not settled: still missing when nothing had moved for 45 s (or after 300 s)")
        result.dead_lettered = await dead_letters(infra.kafka_bootstrap, audit.started_at)
    finally:
        await audit.close()
        await hub.stop()
        await asyncio.to_thread(stack.stop)
    return result


def _fill(result: Result, load: OrderLoad, c: Counts) -> None:
    result.acknowledged = len(load.acknowledged)
    result.lost = c.lost
    result.duplicated_effects = c.duplicated
    result.reordered = c.callbacks.reordered
    result.refused_503 = load.statuses.get("503", 0)
    result.http_500 = sum(n for s, n in load.statuses.items() if s.isdigit() and int(s) >= 500 and s != "503")
    unanswered = sum(n for s, n in load.statuses.items() if not s.isdigit())
    result.notes.append(
        f"tickets {len(c.ticket_ids)} (missing {c.tickets_missing}, twice {c.tickets_duplicated}),"
        f" timers missing {c.timers_missing} / twice {c.timers_duplicated},"
        f" alerts missing {c.alerts_missing} / twice {c.alerts_duplicated} / early {c.alerts_early}"
        f" / not notified {c.alerts_unnotified},"
        f" deliveries sent {c.deliveries_sent} (pending {c.deliveries_pending}, failed {c.deliveries_failed}),"
        f" received {c.mails} e-mails + {c.sms} SMS (missing {c.received_missing}, twice {c.received_duplicated},"
        f" twice inside the flagged window {c.received_duplicated_flagged});"
        f" TMF callbacks {c.callbacks.received} of {c.callbacks.queued} queued (missing {c.callbacks.missing},"
        f" twice {c.callbacks.duplicated}, resent inside the hub's lease window {c.callbacks.resent},"
        f" orders out of order {c.callbacks.reordered}, out of delivery-id order across event types"
        f" {c.callbacks.cross_stream})")
    if c.sms_garbled:
        result.notes.append(f"SMS whose parts all reached the SMSC but never reassembled whole: {c.sms_garbled}"
                            " (two multi-part messages to one phone with the same concatenation reference)")
    if c.unpublished:
        result.notes.append("outbox rows not yet published at the count: "
                            + ", ".join(f"{k} {v}" for k, v in c.unpublished.items()))
    if unanswered:
        result.notes.append(f"requests unanswered (the CRM process was down): {unanswered}")


async def dead_letters(bootstrap: str, since: Any) -> int:
    """Records put on any `.dlq` topic since the drill began (by their broker timestamps)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await reader.start()
    try:
        topics = [t for t in await reader.topics() if t.endswith(".dlq") and not t.startswith("drill.")]
        tps = [TopicPartition(t, p) for t in topics for p in (reader.partitions_for_topic(t) or set())]
        if not tps:
            return 0
        ts = int(since.timestamp() * 1000)
        starts = await reader.offsets_for_times({tp: ts for tp in tps})
        ends = await reader.end_offsets(tps)
        return sum(ends[tp] - (o.offset if o else ends[tp]) for tp, o in starts.items())
    finally:
        await reader.stop()


async def _no_fault(stack: Stack, load: OrderLoad, audit: Auditor, result: Result) -> float | None:
    return None


async def _kill_each_service(stack: Stack, load: OrderLoad, audit: Auditor, result: Result) -> float | None:
    down_s = 2.0
    for name in ("crm", "eoms-bridge", "sla", "notify"):
        p = stack.procs[name][0]
        say(f"service-kill: {name} killed -9")
        await asyncio.to_thread(p.kill)
        await asyncio.sleep(down_s)
        await asyncio.to_thread(p.start, True, 90)
        say(f"service-kill: {name} back")
    return await recovery_after(audit, load, time.monotonic())


async def _kill_broker(stack: Stack, load: OrderLoad, audit: Auditor, result: Result) -> float | None:
    profile = infra_mod.InfraProfile.named("drill")
    say("broker-kill: Kafka killed -9")
    await asyncio.to_thread(kafka_kill, profile)
    await asyncio.sleep(5)
    await asyncio.to_thread(kafka_start, profile)
    say("broker-kill: Kafka back")
    return await recovery_after(audit, load, time.monotonic())


async def _freeze_broker(stack: Stack, load: OrderLoad, audit: Auditor, result: Result) -> float | None:
    profile = infra_mod.InfraProfile.named("drill")
    say("partition: Kafka frozen (SIGSTOP) 15 s")
    kafka_freeze(profile, True)
    try:
        await asyncio.sleep(15)
    finally:
        kafka_freeze(profile, False)
    say("partition: Kafka thawed (SIGCONT)")
    return await recovery_after(audit, load, time.monotonic())


async def _rebalance(stack: Stack, load: OrderLoad, audit: Auditor, result: Result) -> float | None:
    say("rebalance: a third eoms-bridge and sla replica join; one of each killed -9 during the rebalance")
    joining = [asyncio.to_thread(stack.add, s, wait=False) for s in ("eoms-bridge", "sla")]
    await asyncio.gather(*joining)
    await asyncio.sleep(1.0)  # the newcomers' JoinGroup is under way: the group is rebalancing
    for s in ("eoms-bridge", "sla"):
        await asyncio.to_thread(stack.procs[s][0].kill)
    for s in ("eoms-bridge", "sla"):
        await asyncio.to_thread(stack.procs[s][-1].wait_ready, 90)
    result.notes.append("eoms-bridge and sla: 2 replicas, a 3rd joined, replica 0 killed -9 one second later")
    return await recovery_after(audit, load, time.monotonic())


async def _stop_database(stack: Stack, load: OrderLoad, audit: Auditor, result: Result) -> float | None:
    profile = infra_mod.InfraProfile.named("drill")
    say("stack-pg-stop: PostgreSQL stopped (SIGINT, fast shutdown) 20 s")
    await asyncio.to_thread(pg_stop, profile, signal.SIGINT)
    await asyncio.sleep(20)
    await asyncio.to_thread(pg_start, profile)
    say("stack-pg-stop: PostgreSQL back")
    return await recovery_after(audit, load, time.monotonic())


SKEW_DIR = PROJECT_ROOT / "devtools" / "drills" / "skew"


#: How long the partition-one drill cuts one service off from Kafka.
PARTITION_S = 30.0


async def relay_leaders(stack: Stack, service: str, schema: str) -> list[int]:
    """The replicas of `service` whose /metrics report leading `schema`'s outbox relay."""
    leading = f'outbox_relay_leader{{schema="{schema}"}} 1.0'
    out: list[int] = []
    async with httpx.AsyncClient(timeout=5) as http:
        for i, p in enumerate(stack.procs.get(service, [])):
            with contextlib.suppress(httpx.HTTPError):
                if leading in (await http.get(f"{p.url}/metrics")).text:
                    out.append(i)
    return out


def _partition_one(infra: Infra, profile: infra_mod.InfraProfile) -> Callable[[], Awaitable[Result]]:
    """eoms-bridge replica 0 reaches Kafka only through a TCP proxy (`devtools.drills.proxy`, the
    broker's PROXIED listener advertised at the proxy), replica 1 directly; the proxy blackholes
    replica 0's Kafka traffic for `PARTITION_S` under load while its PostgreSQL stays reachable,
    then heals. Replica 0 started alone, so it leads the eoms outbox relay when the cut comes."""
    proxied, proxy_port = drill_proxy_ports(profile)
    proxy = TcpProxy(proxy_port, ("127.0.0.1", proxied))

    async def fault(stack: Stack, load: OrderLoad, audit: Auditor, result: Result) -> float | None:
        say("partition-one: a second eoms-bridge replica joins, straight to the broker")
        await asyncio.to_thread(stack.add, "eoms-bridge", wait=True,
                                env={"KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap})
        await asyncio.sleep(3)  # the group rebalances over both replicas
        leaders = await relay_leaders(stack, "eoms-bridge", "eoms")
        before = len(load.acknowledged)
        say(f"partition-one: replica 0 cut off from Kafka {PARTITION_S:.0f} s (relay leaders: {leaders})")
        proxy.cut()
        cut_at = time.monotonic()
        await asyncio.sleep(PARTITION_S)
        during = load.since(cut_at)
        tickets_during = await audit.tickets_for(during) if during else 0
        unsent = await audit.unsent("eoms")
        leaders_at_heal = await relay_leaders(stack, "eoms-bridge", "eoms")
        proxy.heal()
        say("partition-one: healed")
        result.notes.append(
            f"eoms-bridge: replica 0 via the proxy (cut {PARTITION_S:.0f} s: {proxy.connections} connections"
            f" through it), replica 1 direct; eoms relay leader at the cut: replica {leaders or 'none'},"
            f" at the heal: {leaders_at_heal or 'none'}; orders acknowledged during the cut {len(during)},"
            f" their tickets made during it {tickets_during} (replica 1 took the partitions);"
            f" eoms outbox rows unpublished at the heal: {unsent}; orders before the cut {before}")
        return await recovery_after(audit, load, time.monotonic(), timer=True)

    async def drill() -> Result:
        if not infra_mod.port_open("127.0.0.1", proxied):
            raise RuntimeError(f"the drill broker has no PROXIED listener on {proxied} (started before it had"
                               " one): stop it with `python -m devtools.infra down --profile drill` and rerun")
        await proxy.start()
        try:
            return await run_stack_drill(
                infra, profile, "partition-one",
                f"one eoms-bridge replica (of 2; the relay leader) cut off from Kafka {PARTITION_S:.0f} s by a TCP"
                " proxy that blackholes its traffic (connections open, nothing delivered), then healed",
                fault, service_env={"eoms-bridge": {"KAFKA_BOOTSTRAP_SERVERS": proxy.address}})
        finally:
            await proxy.stop()

    return drill


async def _skewed_replica(stack: Stack, load: OrderLoad, audit: Auditor, result: Result) -> float | None:
    say("clock-skew: a second sla replica whose clock runs 120 s ahead joins")
    await asyncio.to_thread(stack.add, "sla", wait=True,
                            env={"PYTHONPATH": str(SKEW_DIR), "DRILL_CLOCK_SKEW_S": "120"})
    result.notes.append("sla: 2 replicas, the second's wall clock 120 s ahead (devtools/drills/skew) from"
                        " its start (8 s into the load) to the end")
    return None


MAIL_DOWN_S = 60  # the issue's "down for a minute": longer than notify's 5 counted attempts (~30 s)


async def _mail_and_smsc_down(stack: Stack, load: OrderLoad, audit: Auditor, result: Result) -> float | None:
    say(f"smtp-smsc-down: SMTP server and SMSC down {MAIL_DOWN_S} s")
    assert stack.smsc is not None
    stack.smtp_down()
    stack.smsc.call(stack.smsc.simulator.go_down())
    await asyncio.sleep(MAIL_DOWN_S)
    before = len(stack.smtp.handler.messages) + len(stack.smsc.messages)
    stack.smtp_up()
    stack.smsc.call(stack.smsc.simulator.come_up())
    say("smtp-smsc-down: both back")
    return await received_again_after(stack, time.monotonic(), before)


def stack_drills(infra: Infra, profile: infra_mod.InfraProfile) -> dict[str, Callable[[], Awaitable[Result]]]:
    def drill(name: str, fault_text: str, fault: Fault, **kw: Any) -> Callable[[], Awaitable[Result]]:
        return lambda: run_stack_drill(infra, profile, name, fault_text, fault, **kw)

    return {
        "baseline": drill("baseline", "none (the counts every fault row is read against)", _no_fault),
        "service-kill": drill("service-kill", "each service killed -9 in turn (crm, eoms-bridge, sla, notify),"
                              " restarted 2 s later", _kill_each_service),
        "broker-kill": drill("broker-kill", "Kafka broker killed -9, restarted 5 s later", _kill_broker),
        "partition": drill("partition", "Kafka broker frozen (SIGSTOP) 15 s: every client cut off, connections"
                           " open, then SIGCONT", _freeze_broker),
        "partition-one": _partition_one(infra, profile),
        "rebalance": drill("rebalance", "a consumer replica joins and another is killed -9 mid-rebalance"
                           " (eoms-bridge, sla)", _rebalance,
                           replicas={"eoms-bridge": 2, "sla": 2}),
        "stack-pg-stop": drill("stack-pg-stop", "PostgreSQL stopped (SIGINT, fast shutdown) 20 s under the four"
                               " services, restarted", _stop_database),
        "clock-skew": drill("clock-skew", "a second sla replica whose clock runs 120 s ahead, both scanning and"
                            " consuming", _skewed_replica, after_s=20),
        "smtp-smsc-down": drill("smtp-smsc-down", f"the SMTP server and the SMSC down {MAIL_DOWN_S} s",
                                _mail_and_smsc_down),
    }
