"""What every benchmark shares: its own infrastructure profile, services as processes, results files."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backbone.auth import issue_token
from backbone.release import migrate_all
from backbone.settings import DEV_JWT_SECRET
from devtools import infra as devinfra
from devtools.infra import PROJECT_ROOT, InfraProfile, free_port
from devtools.suite import ServiceProcess, spec

RESULTS = PROJECT_ROOT / "bench" / "results"


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    v = sorted(values)

    def pick(q: float) -> float:
        return round(v[min(len(v) - 1, int(q * len(v)))], 2)

    return {"n": len(v), "p50": pick(0.50), "p90": pick(0.90), "p99": pick(0.99), "max": round(v[-1], 2)}


def calibration_ms() -> float:
    """The CPU-ms this process spends on a fixed pure-Python workload (a dict of 20,000 string keys filled, dumped
    to JSON, summed), the median of 7: how fast a CPU-millisecond is on this machine now. On this shared VM the same
    code costs up to twice the CPU-ms from one hour to another (bench.floor's FastAPI POST 1.13 CPU-ms at 14:46 one
    day, 2.19 the next morning with 0.8 % stolen) and while the machine's other core is busy (12 ms on an idle
    machine, 18-22 ms right after a bench, the bench's servers still up), so a results file carries it twice:
    `calibration_ms` when the benchmark's `BenchEnv` was entered (before its servers), `calibration_end_ms` when it
    wrote its results. Compare runs only when their calibrations agree."""
    import time

    def work() -> int:
        d = {str(i): i * 3 % 7 for i in range(20000)}
        return len(json.dumps(d)) + sum(d.values())

    samples = []
    for _ in range(7):
        t0 = time.process_time()
        work()
        samples.append(time.process_time() - t0)
    return round(sorted(samples)[3] * 1000, 2)


#: `calibration_ms` as the last `BenchEnv` was entered: per benchmark, also when `make bench` runs them all in one
#: process (`bench.run_all`).
_calibration_at_start: float | None = None


def machine() -> dict[str, Any]:
    # The load average matters on a shared machine: figures at load 15 are not figures at load 1.
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "load_average": [round(x, 1) for x in os.getloadavg()], "calibration_ms": _calibration_at_start,
            "calibration_end_ms": calibration_ms()}


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(), **data}
    out.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out.relative_to(PROJECT_ROOT)}", flush=True)
    return out


class BenchEnv:
    """Bench infrastructure (durable PostgreSQL settings, real Kafka) plus the services a benchmark needs."""

    def __init__(self, services: list[str], env: dict[str, str] | None = None, crm_workers: int = 1) -> None:
        self.services = services
        self.extra_env = env or {}
        self.crm_workers = crm_workers
        self.procs: dict[str, ServiceProcess] = {}

    def __enter__(self) -> BenchEnv:
        import fcntl
        import shutil

        profile = InfraProfile.named("bench")
        profile.data_dir.mkdir(parents=True, exist_ok=True)
        # One benchmark at a time on this machine: they would skew each other's figures anyway.
        self._lock = open(profile.data_dir.parent / "bench.lock", "w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        global _calibration_at_start
        _calibration_at_start = calibration_ms()  # before this benchmark's servers, another's having finished
        devinfra.stop("bench")
        for part in ("pg", "pg-sock", "kafka"):
            shutil.rmtree(profile.data_dir / part, ignore_errors=True)
        self.infra = devinfra.start("bench")
        try:
            self._start_services(profile)
        except BaseException:
            # A service that fails to start must not leave the servers running: the next benchmark would find
            # this PostgreSQL still shutting down on its port.
            self.__exit__()
            raise
        return self

    def _start_services(self, profile: InfraProfile) -> None:
        migrate_all(self.infra.database_url)
        from devtools.demo import seed

        seed(self.infra.database_url)
        env = {**self.infra.env(), "ENVIRONMENT": "test", "LOG_LEVEL": "WARNING", **self.extra_env}
        logs = profile.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for name in self.services:
            p = ServiceProcess(spec(name), env, free_port(), logs / f"{name}.log")
            if name == "crm" and self.crm_workers > 1:
                p.extra_args = ["--workers", str(self.crm_workers)]
            self.procs[name] = p.start(wait=False)
        for p in self.procs.values():
            p.wait_ready(120)

    def cpu_roots(self) -> dict[str, int]:
        """Every process tree of the benchmark: the services (uvicorn and its workers), PostgreSQL, Kafka."""
        roots = {name: p.proc.pid for name, p in self.procs.items() if p.proc is not None}
        return {**roots, **infra_roots(self.infra)}

    def url(self, name: str) -> str:
        return self.procs[name].url

    def token(self, subject: str, *roles: str) -> str:
        return issue_token(subject, list(roles), secret=DEV_JWT_SECRET)

    def __exit__(self, *exc: object) -> None:
        for p in self.procs.values():
            p.stop()
        devinfra.stop_pids(self.infra.started_pids)
        devinfra.stop("bench")
        self._lock.close()


# --- CPU time of process trees, from /proc (no dependency): the figure the performance targets use ---------

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of a live process's /proc stat after "pid (comm) " (state first), None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, own CPU seconds, CPU seconds of reaped children) of a live process."""
    if (fields := _stat_fields(pid)) is None:
        return None
    ppid, utime, stime, cutime, cstime = int(fields[1]), *(int(f) for f in fields[11:15])
    return ppid, (utime + stime) / _CLK_TCK, (cutime + cstime) / _CLK_TCK


def user_system_s(pid: int) -> tuple[float, float]:
    """A live process's own user and system CPU seconds so far."""
    fields = _stat_fields(pid)
    if fields is None:
        raise ProcessLookupError(pid)
    return int(fields[11]) / _CLK_TCK, int(fields[12]) / _CLK_TCK


def tree_cpu_s(root: int) -> float:
    """CPU seconds used by `root` and every descendant, live or already reaped (PostgreSQL backends that
    ended count through the postmaster's children's time, uvicorn workers through their parent's)."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = st
    if root not in stats:
        return 0.0
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        _, own, reaped = stats[pid]
        total += own + reaped
        todo.extend(children.get(pid, []))
    return total


def machine_ticks() -> tuple[int, int, int]:
    """The whole machine's CPU time so far from /proc/stat's `cpu` line, in clock ticks: busy (user, nice,
    system, irq, softirq), idle (idle, iowait), stolen (time the hypervisor gave another guest)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return user + nice + system + irq + softirq, idle + iowait, steal


class CpuMeter:
    """CPU seconds per named process tree between `start()` and `stop()` (named roots: service processes,
    the postmaster, the Kafka JVM), and the machine's share over the same window (`machine`)."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots
        self._before: dict[str, float] = {}
        self._ticks0 = (0, 0, 0)
        self._t0 = 0.0
        self.used_s: dict[str, float] = {}
        self.wall_s = 0.0
        self.machine: dict[str, float] = {}

    def start(self) -> CpuMeter:
        import time

        self._before = {name: tree_cpu_s(pid) for name, pid in self.roots.items()}
        self._ticks0 = machine_ticks()
        self._t0 = time.monotonic()
        return self

    def stop(self) -> dict[str, float]:
        import time

        self.wall_s = time.monotonic() - self._t0
        self.used_s = {name: tree_cpu_s(pid) - self._before[name] for name, pid in self.roots.items()}
        busy, idle, steal = (b - a for a, b in zip(self._ticks0, machine_ticks(), strict=True))
        total = max(1, busy + idle + steal)
        # Percent of all the machine's cores over the window. Stolen time is CPU the hypervisor gave another
        # guest (the same code then reads slower: a day's figures against another's need it); "outside" is what
        # processes other than the measured ones used (the load generator, anything else on the machine).
        ours = 100 * sum(self.used_s.values()) * _CLK_TCK / total
        self.machine = {"busy_percent": round(100 * busy / total, 1), "steal_percent": round(100 * steal / total, 1),
                        "outside_percent": round(max(0.0, 100 * busy / total - ours), 1)}
        return self.used_s


def infra_roots(infra: devinfra.Infra) -> dict[str, int]:
    """The postmaster and the Kafka broker of a bench infrastructure, by name."""
    roots: dict[str, int] = {}
    for pid in infra.started_pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        roots["kafka" if b"kafka.Kafka" in cmd else "postgresql"] = pid
    return roots


def profiler(pid: int, out: str | None, seconds: float) -> subprocess.Popen[bytes] | None:
    """py-spy (when installed: `pip install py-spy`) sampling `pid` for `seconds` into `out` (collapsed stacks)."""
    if not out:
        return None
    spy = os.path.join(os.path.dirname(sys.executable), "py-spy")
    return subprocess.Popen([spy, "record", "-p", str(pid), "-d", str(int(seconds)), "-f", "raw", "-o", out,
                             "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def top_frames(path: str, n: int = 25) -> list[tuple[str, float]]:
    """Share of samples per function (inclusive) from py-spy's collapsed stacks."""
    total, inclusive = 0, Counter[str]()
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip().rpartition(" ")
            total += int(count)
            for frame in set(stack.split(";")):
                inclusive[frame] += int(count)
    return [(frame, round(100 * c / total, 1)) for frame, c in inclusive.most_common(n)]


def run_module(module: str, *args: str) -> int:
    return subprocess.call([sys.executable, "-m", module, *args], cwd=PROJECT_ROOT)
