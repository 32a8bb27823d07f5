"""Idle cost: the whole suite's CPU when nothing happens.

Starts the four services (with the SMTP server and the SMSC simulator notify talks to) on the bench
infrastructure, lets them settle, then counts the CPU time of every process tree (each service,
PostgreSQL with all its backends, the Kafka broker) over an idle window. The target (issue 16) is
the whole suite at or under 2 % of one core.

`python -m bench.idle --seconds 60 [--settle N] [--windows N] [--profile DIR] [--wakeups DIR] [--env NAME=VALUE ...]
[--out NAME]`

`--profile DIR` samples each service with py-spy; `--wakeups DIR` counts each service's event-loop wake-ups
(`epoll_wait` calls, with strace: the tracing inflates the CPU figures of that run, so such a run only
prints, it does not write bench/results/idle.json). `--env NAME=VALUE` (repeatable) gives every service a
setting (an interval, say) for a before/after pair; the result records it as `service_env`. `--windows N` measures
N windows of `--seconds` one after the other on the same suite (each one's figures under `windows`, the top-level
figures over all of them): repetitions without a restart, to see a run's spread on a loaded machine. `--out NAME`
writes bench/results/NAME.json instead of idle.json (two runs side by side on their own GS_PORT_OFFSET and
GS_DATA_DIR, a broker setting each, see the same load at the same time).

Every run also splits the broker's CPU by JVM thread (`kafka_threads`: /proc/<pid>/task read at the window's
two ends, the threads named from a `jstack` thread dump taken after the window, numbered threads of one pool
summed under `<pool>-N`): where the broker's idle time goes, without disturbing the measured window.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.common import BenchEnv, CpuMeter, profiler, top_frames, write_result
from bench.notify_messages import ServerProcess
from devtools.infra import free_port

SERVICES = ["crm", "eoms-bridge", "sla", "notify", "stats"]


def wakeup_counter(pid: int, out: str, seconds: float) -> subprocess.Popen[bytes] | None:
    """strace counting a service's epoll waits (one per event-loop iteration) for `seconds` into `out`."""
    strace = shutil.which("strace")
    if strace is None:
        return None
    return subprocess.Popen(["timeout", "-s", "INT", str(int(seconds)), strace, "-f", "-c", "-e",
                             "trace=epoll_wait,epoll_pwait", "-p", str(pid), "-o", out],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wakeups_per_s(path: str, seconds: float) -> float | None:
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    calls = [int(m.group(1)) for m in re.finditer(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?epoll_p?wait",
                                                  text, re.M)]
    return round(sum(calls) / seconds, 1) if calls else None


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def thread_cpu_ticks(pid: int) -> dict[int, int]:
    """CPU clock ticks (user + system) of each live thread of `pid`."""
    ticks: dict[int, int] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return ticks
    for tid in tids:
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        ticks[int(tid)] = int(fields[11]) + int(fields[12])
    return ticks


def jvm_thread_names(pid: int) -> dict[int, str]:
    """Native thread id -> Java thread name, from a thread dump (`jstack`); the kernel's 15-character names
    (/proc comm) where jstack is missing or fails."""
    names: dict[int, str] = {}
    jstack = shutil.which("jstack")
    if jstack is not None:
        try:
            dump = subprocess.run([jstack, str(pid)], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            dump = ""
        for m in re.finditer(r'^"([^"]*)".*? nid=(0x[0-9a-f]+)', dump, re.M):
            names[int(m.group(2), 16)] = m.group(1)
    for tid in thread_cpu_ticks(pid):
        if tid not in names:
            with contextlib.suppress(OSError):
                names[tid] = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
    return names


def thread_breakdown(pid: int, before: dict[int, int], after: dict[int, int], wall_s: float,
                     top: int = 20) -> dict[str, float]:
    """% of a core per thread (threads of one pool, `name-0`, `name-1`, summed as `name-N`), the `top` largest."""
    names = jvm_thread_names(pid)
    used: dict[str, int] = {}
    for tid, ticks in after.items():
        name = re.sub(r"-\d+$", "-N", names.get(tid, f"thread {tid}"))
        used[name] = used.get(name, 0) + ticks - before.get(tid, 0)
    ranked = sorted(((n, t) for n, t in used.items() if t > 0), key=lambda item: -item[1])[:top]
    return {name: round(100 * t / _CLK_TCK / wall_s, 2) for name, t in ranked}


def run(seconds: float, settle_s: float, profile_dir: str | None = None,
        wakeups_dir: str | None = None, service_env: dict[str, str] | None = None,
        windows: int = 1) -> dict[str, Any]:
    smtp_port, smsc_port = free_port(), free_port()
    smtp = ServerProcess(["-m", "devtools.smtp", "--port", str(smtp_port)], "[smtp] mail to", "listening")
    try:
        smsc = ServerProcess(["-m", "devtools.smsc", "--port", str(smsc_port)], "[", "SMSC simulator on")
    except BaseException:
        smtp.stop()
        raise
    env = {"SMTP_URL": f"smtp://127.0.0.1:{smtp_port}", "SMPP_URL": f"smpp://notify:secret@127.0.0.1:{smsc_port}",
           **(service_env or {})}
    each: list[dict[str, Any]] = []
    try:
        with BenchEnv(services=SERVICES, env=env) as bench:
            time.sleep(settle_s)  # consumer groups join, first passes, JIT warm-up of the broker
            roots = bench.cpu_roots()
            kafka_pid = roots.get("kafka")
            kafka_before = thread_cpu_ticks(kafka_pid) if kafka_pid else {}
            whole = CpuMeter(roots).start()
            spies = [profiler(roots[name], f"{profile_dir}/{name}.txt", seconds * windows) for name in SERVICES] \
                if profile_dir else []
            spies += [wakeup_counter(roots[name], f"{wakeups_dir}/{name}.strace", seconds * windows)
                      for name in SERVICES] if wakeups_dir else []
            for _ in range(windows):
                meter = CpuMeter(roots).start()
                time.sleep(seconds)
                window = meter.stop()
                each.append({"total_percent": round(sum(window.values()) * 100 / meter.wall_s, 2),
                             "percent_of_a_core": {name: round(100 * s / meter.wall_s, 2)
                                                   for name, s in sorted(window.items())},
                             "machine_cpu": meter.machine})
            used = whole.stop()
            kafka_after = thread_cpu_ticks(kafka_pid) if kafka_pid else {}
            for spy in spies:
                if spy is not None:
                    spy.wait(30)
            kafka_threads = thread_breakdown(kafka_pid, kafka_before, kafka_after, whole.wall_s) if kafka_pid else {}
    finally:
        smtp.stop()
        smsc.stop()
    per_process = {name: round(100 * s / whole.wall_s, 2) for name, s in sorted(used.items())}
    total = round(sum(used.values()) * 100 / whole.wall_s, 2)
    services = round(sum(v for k, v in used.items() if k in SERVICES) * 100 / whole.wall_s, 2)
    result: dict[str, Any] = {"idle_s": round(whole.wall_s, 1), "settle_s": settle_s,
                              "percent_of_a_core": per_process, "services_percent": services, "total_percent": total,
                              "machine_cpu": whole.machine, "kafka_threads": kafka_threads}
    if windows > 1:
        result["windows"] = each
    if service_env:
        result["service_env"] = service_env
    if wakeups_dir:
        result["loop_wakeups_per_s"] = {name: wakeups_per_s(f"{wakeups_dir}/{name}.strace", seconds * windows)
                                        for name in SERVICES}
    print(result, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--settle", type=float, default=20)
    parser.add_argument("--windows", type=int, default=1, help="idle windows of --seconds one after the other")
    parser.add_argument("--out", default="idle", help="name of the results file under bench/results/")
    parser.add_argument("--profile", help="py-spy every service over the idle window into this folder")
    parser.add_argument("--wakeups", help="count every service's event-loop wake-ups (strace) into this folder")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for every service (repeatable), to compare an interval's idle cost")
    args = parser.parse_args()
    service_env = dict(item.split("=", 1) for item in args.env)
    result = run(args.seconds, args.settle, args.profile, args.wakeups, service_env, args.windows)
    if args.wakeups:  # strace inflated this run's CPU figures: a diagnostic, not a result
        print(f"loop wake-ups per second: {result['loop_wakeups_per_s']} (bench/results/{args.out}.json not written)")
    else:
        write_result(args.out, result)
    if args.profile:
        for name in SERVICES:
            print(f"--- {name}")
            for frame, share in top_frames(f"{args.profile}/{name}.txt", 30):
                print(f"{share:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
