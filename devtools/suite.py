"""Starts the whole suite on one machine: infra, migrations, demo data, the four services, SMTP and SMPP,
and the ops console (console/, built when its sources changed; devtools.console_build) served with the
gateways behind one origin (devtools.console_server).

`make run` is `python -m devtools.suite`. The tests use `ServiceProcess` to run services as real
subprocesses (so they can be killed with SIGKILL and restarted).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from backbone.release import migrate_all, service_dir
from backbone.workers import Backoff
from devtools import infra as devinfra
from devtools.infra import PROJECT_ROOT, InfraProfile, log, port_open


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    app: str  # uvicorn "module:attr"
    directory: Path  # holds migrations/
    port: int


SERVICES = [
    ServiceSpec("crm", "crm.main:app", service_dir("crm"), 8001),
    ServiceSpec("eoms-bridge", "eoms_bridge.main:app", service_dir("eoms-bridge"), 8002),
    ServiceSpec("sla", "sla.main:app", service_dir("sla"), 8003),
    ServiceSpec("notify", "notify.main:app", service_dir("notify"), 8004),
    ServiceSpec("stats", "stats.main:app", service_dir("stats"), 8005),
]


#: The console's name for each gateway (console/src/config.ts) → the suite's service.
CONSOLE_SERVICES = {"crm": "crm", "eoms": "eoms-bridge", "sla": "sla", "notify": "notify", "stats": "stats"}


def spec(name: str) -> ServiceSpec:
    return next(s for s in SERVICES if s.name == name)


@dataclass
class ServiceProcess:
    """One service as a real OS process (uvicorn), with its own environment."""

    spec: ServiceSpec
    env: dict[str, str]
    port: int
    log_path: Path | None = None
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True, timeout: float = 60) -> ServiceProcess:
        env = {**os.environ, **self.env, "SERVICE_NAME": self.spec.name}
        out = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", self.spec.app, "--host", "127.0.0.1", "--port", str(self.port),
             "--no-access-log", "--log-level", "warning", *self.extra_args],
            env=env, stdout=out, stderr=out, start_new_session=True,
        )
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"{self.spec.name} exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.spec.name} not ready within {timeout}s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL to the service's whole process group (uvicorn and, with `--workers`, its worker processes):
        no shutdown hooks, no flush; what the delivery guarantees must survive, as when a host dies."""
        if self.proc is not None and self.proc.poll() is None:
            self.kill_group()
            self.proc.wait()

    def stop(self) -> None:
        """SIGTERM to uvicorn (which stops its workers in order), then SIGKILL to whatever of its process group
        is left: a worker that outlived its supervisor would go on with its consumers and relay, orphaned."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=15)
            self.kill_group()
            self.proc.wait()

    def kill_group(self) -> None:
        """SIGKILL to the process group the uvicorn process leads (start_new_session: its workers are in it). Called
        right after the leader was reaped, it ends the workers that outlived it: the group's id stays taken while they
        live, so it cannot name anyone else's processes."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)


@dataclass
class Supervisor:
    """Restarts a service process that exited, as an orchestrator would (`make run`, the drills).

    `check()` is one pass (call it every half second): a process found dead is logged with its exit
    code and restarted after a backoff (`backbone.workers.Backoff`: 1 s, 2 s, 4 s … at most 30 s)
    that grows with its crashes in a row; a process that stayed up `healthy_after_s` has its count
    reset. Restarts never block: a slow service does not delay the others' supervision.
    """

    procs: list[ServiceProcess]
    backoff: Backoff = field(default_factory=lambda: Backoff(initial_s=1.0, max_s=30.0, jitter=0.2))
    healthy_after_s: float = 60.0
    restarts: dict[str, int] = field(default_factory=dict)  # per service name, for the logs and the drills
    _crashes: dict[int, int] = field(default_factory=dict)
    _due: dict[int, float] = field(default_factory=dict)
    _since: dict[int, float] = field(default_factory=dict)

    def check(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for i, p in enumerate(self.procs):
            if p.proc is None:
                continue
            code = p.proc.poll()
            if code is None:
                self._since.setdefault(i, now)
                if now - self._since[i] >= self.healthy_after_s:
                    self._crashes[i] = 0
                continue
            if i not in self._due:
                p.kill_group()  # workers of a uvicorn that died must not live on beside its restart
                self._crashes[i] = self._crashes.get(i, 0) + 1
                delay = self.backoff.delay(self._crashes[i])
                self._due[i] = now + delay
                log(f"{p.spec.name} (pid {p.proc.pid}) exited with {code}; restarting in {delay:.1f}s"
                    f" (crash {self._crashes[i]} in a row; see {p.log_path})")
            elif now >= self._due[i]:
                del self._due[i]
                p.start(wait=False)
                self._since[i] = now
                self.restarts[p.spec.name] = self.restarts.get(p.spec.name, 0) + 1
                log(f"{p.spec.name} restarted (pid {p.proc.pid if p.proc else '?'})")


def seed_demo_data(database_url: str) -> None:
    """Demo customers (devtools.demo, idempotent)."""
    from devtools.demo import seed

    seed(database_url)


def start_console(port: int, urls: dict[str, str], log_path: Path | None = None,
                  extra_args: list[str] | None = None) -> subprocess.Popen[bytes]:
    """devtools.console_server on 127.0.0.1:`port`, proxying /svc/<name>/ to `urls` (console names:
    crm, eoms, sla, notify); returns once it answers."""
    out = open(log_path, "ab") if log_path else None  # noqa: SIM115 - lives as long as the process
    args = [f"--service={name}={url}" for name, url in urls.items()]
    proc = subprocess.Popen([sys.executable, "-m", "devtools.console_server", "--port", str(port), *args,
                             *(extra_args or [])], stdout=out, stderr=out, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the console server exited with {proc.returncode}; see {log_path}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/config.json", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"the console server did not answer on :{port} within 30s; see {log_path}")


def _interrupt_on_signals() -> None:
    # Ctrl-C and `kill` both stop the suite in order; a shell that starts us in the background
    # ignores SIGINT for us, so install the handler explicitly.
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def run(profile_name: str = "run", console: bool = True) -> None:
    _interrupt_on_signals()
    if console:
        # Before anything starts: a first build takes a minute (npm ci + build), later ones nothing.
        from devtools.console_build import ensure_built

        ensure_built()
    profile = InfraProfile.named(profile_name)
    infra = devinfra.start(profile_name)
    started_pids = list(infra.started_pids)
    procs: list[ServiceProcess] = []
    aux: list[subprocess.Popen[bytes]] = []
    try:
        migrate_all(infra.database_url)
        logs = profile.data_dir / "logs"
        logs.mkdir(exist_ok=True)
        smtp_port = int(os.environ.get("DEV_SMTP_PORT", "2525"))
        smpp_port = int(os.environ.get("DEV_SMPP_PORT", "2775"))
        if not port_open("127.0.0.1", smtp_port):
            aux.append(subprocess.Popen(
                [sys.executable, "-m", "devtools.smtp", "--port", str(smtp_port),
                 "--mailbox", str(profile.data_dir / "mailbox.jsonl")], start_new_session=True))
        if not port_open("127.0.0.1", smpp_port):
            aux.append(subprocess.Popen(
                [sys.executable, "-m", "devtools.smsc", "--port", str(smpp_port)], start_new_session=True))
        env = {
            **infra.env(),
            "ENVIRONMENT": "local",
            "SMTP_URL": os.environ.get("SMTP_URL", f"smtp://127.0.0.1:{smtp_port}"),
            "SMPP_URL": os.environ.get("SMPP_URL", f"smpp://notify:secret@127.0.0.1:{smpp_port}"),
            # One-minute limits so a demo order warns, breaches and escalates while you watch.
            "SLA_POLICY_FILE": os.environ.get(
                "SLA_POLICY_FILE", str(PROJECT_ROOT / "services" / "sla" / "sla" / "policies" / "demo.yaml")),
        }
        for s in SERVICES:
            procs.append(ServiceProcess(s, env, s.port, logs / f"{s.name}.log").start(wait=False))
        for p in procs:
            p.wait_ready()
        seed_demo_data(infra.database_url)
        console_port = int(os.environ.get("CONSOLE_PORT", "8080"))
        if console:
            aux.append(start_console(console_port, {c: f"http://127.0.0.1:{spec(s).port}"
                                                    for c, s in CONSOLE_SERVICES.items()}, logs / "console.log"))
        print("\nThe suite is up (Ctrl-C stops everything):", flush=True)
        if console:
            print(f"console  http://127.0.0.1:{console_port}   (pick a persona; the gateways are under /svc/)",
                  flush=True)
        for p in procs:
            print(f"  {p.spec.name:<12} {p.url}   docs: {p.url}/docs", flush=True)
        print(f"  kafka        {infra.kafka_bootstrap} ({infra.kafka_flavour})", flush=True)
        print(f"  postgresql   {infra.database_url}", flush=True)
        print(f"  smtp         127.0.0.1:{smtp_port} (mail is printed below and kept in "
              f"{profile.data_dir / 'mailbox.jsonl'})", flush=True)
        print(f"  smpp (SMSC)  127.0.0.1:{smpp_port}", flush=True)
        print(f"  service logs {logs}\n", flush=True)
        supervisor = Supervisor(procs)
        while True:  # a crashed service is restarted with backoff, as an orchestrator would
            supervisor.check()
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
    finally:
        # Stop the services together (each drains its loops), then the servers they talk to.
        for p in procs:
            if p.proc and p.proc.poll() is None:
                p.proc.send_signal(signal.SIGTERM)
        for p in procs:
            p.stop()
        for a in aux:
            a.terminate()
        devinfra.stop_pids(started_pids)
        devinfra.stop(profile_name)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the whole suite locally with demo data")
    parser.add_argument("--profile", default="run")
    parser.add_argument("--no-console", action="store_true", help="neither build nor serve the ops console")
    args = parser.parse_args()
    run(args.profile, console=not args.no_console)


if __name__ == "__main__":
    main()
