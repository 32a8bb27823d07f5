"""Notify throughput: sla.breached events → messages received by a local SMTP server and SMSC.

Runs notify as a real process on the bench infrastructure (real Kafka, durable PostgreSQL), wired
to an aiosmtpd server (`python -m devtools.smtp`) and the SMPP simulator (`python -m
devtools.smsc`), each in its own process (in this process they competed with the counting for
the GIL); messages are counted from the one line each server prints per message. Each event goes to its own
recipient (a generated directory, no supervisor, limits far above the load), so every event is
exactly one e-mail + one SMS and the policy never digests. The clock runs from the first produced
event to the last message received at the servers; receipts (DLR → `delivered`) are counted too.
`last_row_queued_s` (when the consumer committed the last delivery row) splits the time between the
consumer and the sending. `--instances 2` runs a second notify process on the same database and
consumer group (the partitions split between them, the claims share the rows); the CPU breakdown
names each (`notify`, `notify-2`).

`python -m bench.notify_messages --events 1000 [--instances 2]`
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from backbone.envelope import Envelope
from backbone.events import SlaBreached
from backbone.kafka import Producer
from backbone.topics import SLA_ALERTS
from bench.common import BenchEnv, CpuMeter, percentiles, profiler, top_frames, write_result
from devtools.infra import InfraProfile, free_port
from devtools.suite import ServiceProcess, spec


def directory(n: int) -> dict[str, Any]:
    return {
        "departments": [{"id": "bench", "name": "bench"}],
        "people": [
            {"id": f"bp{i:05d}", "name": f"bench {i}", "roles": ["bench_role"], "department": "bench",
             "phone": f"139{i:08d}", "email": f"bp{i:05d}@bench.example.com", "language": "en"}
            for i in range(n)
        ],
    }


def event(i: int, run: str) -> Envelope:
    ticket = f"T-BENCH-{run}-{i:05d}"
    payload = SlaBreached(
        timer_id=f"tmr-{ticket}", ticket_id=ticket, ticket_kind="service_opening", business_type="vpmn.opening",
        node="bench_node", role="bench_role", assignee=f"bp{i:05d}", customer_id="bench-cust",
        customer_name="Bench Co", customer_tier="B", account_manager_id="bench-am",
        deadline=datetime.now(UTC) - timedelta(minutes=1), policy_version="bench", lateness_seconds=60,
    )
    return Envelope.wrap(payload, source="sla", subject=ticket)


def by_second(arrivals: list[float]) -> list[int]:
    """How many of `arrivals` (seconds after the start) fell in each whole second."""
    counts = [0] * (int(max(arrivals)) + 1 if arrivals else 0)
    for t in arrivals:
        counts[int(t)] += 1
    return counts


class ServerProcess:
    """A message server as a subprocess; every stdout line starting with `marker` is one message."""

    def __init__(self, args: list[str], marker: str, ready: str) -> None:
        self.proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1)
        self.marker, self.arrivals = marker, list[float]()
        self._ready = threading.Event()
        self._ready_line = ready
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(30):
            self.stop()
            raise RuntimeError(f"{args} did not start")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(self.marker):
                self.arrivals.append(time.monotonic())
            elif self._ready_line in line:
                self._ready.set()

    @property
    def count(self) -> int:
        return len(self.arrivals)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def measure(bench: BenchEnv, smtp: ServerProcess, smsc: ServerProcess, events: int,
                  profile: str | None = None, others: dict[str, int] | None = None) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:6]
    producer = Producer(bench.infra.kafka_bootstrap)
    await producer.start()
    envelopes = [event(i, run_id) for i in range(events)]
    smtp_before, smsc_before = smtp.count, smsc.count
    roots = {**bench.cpu_roots(), **(others or {}), "smtp-server": smtp.proc.pid, "smsc": smsc.proc.pid}
    load_before = [round(x, 1) for x in os.getloadavg()]
    meter = CpuMeter(roots).start()
    spy = profiler(roots["notify"], profile, 600)
    started, started_wall = time.monotonic(), time.time()
    futures = [await producer.send(SLA_ALERTS, e.to_bytes(), key=e.subject.encode()) for e in envelopes]
    await asyncio.gather(*futures)
    produced = time.monotonic() - started
    target = 2 * events
    while time.monotonic() < started + 600:
        if smtp.count - smtp_before + smsc.count - smsc_before >= target:
            break
        await asyncio.sleep(0.01)
    arrivals = sorted(t - started for t in smtp.arrivals[smtp_before:] + smsc.arrivals[smsc_before:])
    elapsed = arrivals[-1] if len(arrivals) >= target else time.monotonic() - started
    used = meter.stop()
    load_after = [round(x, 1) for x in os.getloadavg()]
    if spy is not None:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        spy.wait(30)
    await producer.stop()
    engine = create_async_engine(bench.infra.database_url)
    async with engine.connect() as conn:  # the consumer's share: when the last row was queued
        last_queued = (await conn.execute(text(
            "SELECT extract(epoch FROM max(created_at)) FROM notify.deliveries WHERE ticket_id LIKE :t"
        ), {"t": f"T-BENCH-{run_id}-%"})).scalar()
    await engine.dispose()
    token = bench.token("bench-admin", "admin")
    delivered = 0
    async with httpx.AsyncClient(base_url=bench.url("notify"), timeout=30) as http:
        for _ in range(50):
            r = await http.get("/api/v1/deliveries", params={"status": "delivered", "limit": 500},
                               headers={"Authorization": f"Bearer {token}"})
            delivered = len(r.json()["items"])
            if delivered >= min(events, 500):
                break
            await asyncio.sleep(0.2)
    emails, sms = smtp.count - smtp_before, smsc.count - smsc_before
    return {
        "messages_expected": target,
        "emails_received": emails,
        "sms_received": sms,
        "produce_s": round(produced, 2),
        "elapsed_s": round(elapsed, 2),
        "messages_per_s": round((emails + sms) / elapsed, 1),
        # first to last message at the servers (the consumer still queuing meanwhile)
        "sending_messages_per_s": round((len(arrivals) - 1) / max(1e-9, arrivals[-1] - arrivals[0]), 1)
        if len(arrivals) > 1 else 0.0,
        "arrival_s": percentiles(arrivals),
        # messages at the servers in each second after the first event (is the rate steady? the first second?)
        "messages_by_second": by_second(arrivals),
        "arrival_s_by_server": {"smtp": percentiles([t - started for t in smtp.arrivals[smtp_before:]]),
                                "smsc": percentiles([t - started for t in smsc.arrivals[smsc_before:]])},
        "delivered_dlr_first_page": delivered,
        "last_row_queued_s": round(float(last_queued) - started_wall, 2) if last_queued is not None else None,
        "cpu_ms_per_message": {name: round(s * 1000 / max(1, emails + sms), 2) for name, s in sorted(used.items())},
        "cpu_ms_per_message_all": round(sum(used.values()) * 1000 / max(1, emails + sms), 2),
        "load_average_before_after": [load_before, load_after],
    }


def run(events: int, workers: int, profile: str | None = None, batch: int = 16, binds: int = 2,
        connections: int = 32, instances: int = 1) -> dict[str, Any]:
    smtp_port, smsc_port = free_port(), free_port()
    smtp = ServerProcess(["-m", "devtools.smtp", "--port", str(smtp_port)], "[smtp] mail to", "listening")
    try:
        smsc = ServerProcess(["-m", "devtools.smsc", "--port", str(smsc_port), "--dlr-delay", "0.05"],
                             "[", "SMSC simulator on")
    except BaseException:
        smtp.stop()
        raise
    tmp = Path(tempfile.mkdtemp(prefix="notify-bench-"))
    (tmp / "directory.yaml").write_text(yaml.safe_dump(directory(events)))
    env = {
        "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}", "SMPP_URL": f"smpp://notify:secret@127.0.0.1:{smsc_port}",
        "DIRECTORY_FILE": str(tmp / "directory.yaml"),
        "RATE_LIMIT": "1000", "DIGEST_THRESHOLD": "1000", "EMAIL_WORKERS": str(workers),
        "SMS_WORKERS": str(workers), "DISPATCH_BATCH": str(batch), "SMPP_BINDS": str(binds),
        "SMTP_CONNECTIONS": str(connections),
    }
    try:
        with BenchEnv(services=["notify"], env=env) as bench, contextlib.ExitStack() as more:
            others: dict[str, int] = {}
            for n in range(2, instances + 1):  # the same environment as BenchEnv's notify
                extra = ServiceProcess(spec("notify"), {**bench.infra.env(), "ENVIRONMENT": "test",
                                                        "LOG_LEVEL": "WARNING", **env},
                                       free_port(), InfraProfile.named("bench").data_dir / "logs" / f"notify-{n}.log")
                more.callback(extra.stop)
                extra.start(wait=True, timeout=120)
                assert extra.proc is not None
                others[f"notify-{n}"] = extra.proc.pid
            figures = asyncio.run(measure(bench, smtp, smsc, events, profile, others))
    finally:
        smtp.stop()
        smsc.stop()
    result = {"events": events, "instances": instances, "workers_per_channel": workers, "dispatch_batch": batch,
              "smpp_binds": binds, "smtp_connections": connections, **figures}
    print(result, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4, help="dispatch workers per channel")
    parser.add_argument("--batch", type=int, default=16, help="DISPATCH_BATCH: rows per claim")
    parser.add_argument("--binds", type=int, default=2, help="SMPP_BINDS")
    parser.add_argument("--connections", type=int, default=32, help="SMTP_CONNECTIONS")
    parser.add_argument("--instances", type=int, default=1, help="notify processes (same database and group)")
    parser.add_argument("--profile", help="py-spy the notify process while the messages go out, into this file")
    args = parser.parse_args()
    write_result("notify_messages", run(args.events, args.workers, args.profile, args.batch, args.binds,
                                        args.connections, args.instances))
    if args.profile:
        for frame, share in top_frames(args.profile, 40):
            print(f"{share:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
