"""What every drill shares: the result row and its table, reading a topic like an auditor, and the
faults on the servers themselves (PostgreSQL stopped or killed, the Kafka broker killed -9 or frozen
with SIGSTOP)."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from devtools import infra as infra_mod

PROFILE = "drill"
TABLE_BEGIN = "<!-- drill-table:begin -->"
TABLE_END = "<!-- drill-table:end -->"


def say(msg: str) -> None:
    print(f"[drill] {msg}", file=sys.stderr, flush=True)


@dataclass
class Result:
    drill: str
    fault: str
    load: str
    acknowledged: int = 0
    lost: int = 0
    duplicated_effects: int = 0
    reordered: int | None = 0  # None: not measured by this drill
    dead_lettered: int = 0
    relay_duplicates: int | None = 0
    refused_503: int = 0
    http_500: int = 0
    recovery_s: float | None = None
    notes: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.lost == 0 and self.duplicated_effects == 0 and not self.reordered and self.http_500 == 0
                and not self.failed_checks)


async def read_all(bootstrap: str, topic: str) -> list[str]:
    """Every record's event id on `topic` (the key of the effect), or its raw bytes when not an envelope."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await reader.start()
    try:
        cluster = await reader._client.fetch_all_metadata()
        parts = cluster.partitions_for_topic(topic)
        if not parts:
            return []
        tps = [TopicPartition(topic, p) for p in parts]
        reader.assign(tps)
        await reader.seek_to_beginning(*tps)
        end = await reader.end_offsets(tps)
        out: list[str] = []

        async def behind() -> bool:
            return any([await reader.position(tp) < end[tp] for tp in tps])

        while await behind():
            for msgs in (await reader.getmany(timeout_ms=500)).values():
                for m in msgs:
                    try:
                        out.append(str(json.loads(m.value)["id"]))
                    except Exception:  # noqa: BLE001 - poison: counted by its bytes
                        out.append(repr(m.value[:40]))
        return out
    finally:
        await reader.stop()


# ---------------------------------------------------------------- the servers


def _remember(profile: infra_mod.InfraProfile, pids: list[int]) -> None:
    """So `python -m devtools.infra down --profile drill` stops a server a drill restarted."""
    state = profile.data_dir / "infra.json"
    if state.exists() and pids:
        known = json.loads(state.read_text())
        known["pids"] = [p for p in known.get("pids", []) if infra_mod._ours(p, profile.data_dir)] + pids
        state.write_text(json.dumps(known))


def _pg_pid(profile: infra_mod.InfraProfile) -> int:
    return int((profile.data_dir / "pg" / "postmaster.pid").read_text().split()[0])


def pg_stop(profile: infra_mod.InfraProfile, sig: signal.Signals) -> None:
    pid = _pg_pid(profile)
    os.kill(pid, sig)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and infra_mod.port_open("127.0.0.1", profile.pg_port):
        time.sleep(0.1)
    if sig == signal.SIGKILL:
        # The postmaster's children die with it a moment later; the port is then free.
        time.sleep(1.0)


def pg_start(profile: infra_mod.InfraProfile) -> None:
    _, pids = infra_mod.ensure_postgres(profile)
    _remember(profile, pids)


def kafka_pid(profile: infra_mod.InfraProfile) -> int:
    """The broker of the profile: the java process whose command line names its data folder."""
    props = str(profile.data_dir / "kafka" / "server.properties")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "kafka.Kafka" in cmdline and props in cmdline:
            return int(entry.name)
    raise RuntimeError(f"no Kafka broker of {profile.data_dir} is running")


def kafka_kill(profile: infra_mod.InfraProfile) -> None:
    """SIGKILL to the broker: no controlled shutdown, the log recovered on the next start."""
    pid = kafka_pid(profile)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        with_zombie = Path(f"/proc/{pid}/status")
        if with_zombie.exists() and "zombie" in with_zombie.read_text():
            break
        time.sleep(0.1)


def kafka_start(profile: infra_mod.InfraProfile) -> None:
    _, _, pids = infra_mod.ensure_kafka(profile)
    _remember(profile, pids)


def kafka_freeze(profile: infra_mod.InfraProfile, frozen: bool) -> None:
    """SIGSTOP / SIGCONT to the broker: a network partition as its clients see it (connections open,
    nothing answered, requests time out), not a crash."""
    os.kill(kafka_pid(profile), signal.SIGSTOP if frozen else signal.SIGCONT)


# ---------------------------------------------------------------- the table


def _n(v: int | None) -> str:
    return "—" if v is None else str(v)


def table(results: list[Result], took: str = "") -> str:
    lines = [
        "| drill | fault | load | acknowledged | lost | duplicated effects | reordered | DLQ | relay duplicates"
        " (inbox-absorbed) | refused (503) | 500 | recovery | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rec = f"{r.recovery_s:.1f} s" if r.recovery_s is not None else "none"
        lines.append(
            f"| {r.drill} | {r.fault} | {r.load} | {r.acknowledged} | {r.lost} | {r.duplicated_effects}"
            f" | {_n(r.reordered)} | {r.dead_lettered} | {_n(r.relay_duplicates)} | {r.refused_503} | {r.http_500}"
            f" | {rec} | {'; '.join(r.notes + [f'FAILED: {c}' for c in r.failed_checks])} |"
        )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (f"Measured by `python -m devtools.drill` on {stamp}{f' ({took})' if took else ''}.\n\n"
            + "\n".join(lines) + "\n")


def _rows(block: str) -> dict[str, str]:
    """The drill name → its row, of a table `table` wrote."""
    rows = [line for line in block.splitlines() if line.startswith("| ") and not line.startswith("| drill |")]
    return {line.split("|")[1].strip(): line for line in rows}


def write_table(path: Path, results: list[Result], took: str = "") -> None:
    """Rewrite the table between the markers: the rows of `results` replace the rows of the same drills,
    the others stay (a `--only` run updates its own rows), each row saying when it was measured."""
    text_ = path.read_text() if path.exists() else ""
    ours = table(results, took)
    if TABLE_BEGIN in text_ and TABLE_END in text_:
        old_block = text_.split(TABLE_BEGIN, 1)[1].split(TABLE_END, 1)[0]
        old = _rows(old_block)
        earlier = sorted(re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", old_block))
        new = _rows(ours)
        if set(old) - set(new):
            header = [line for line in ours.splitlines() if line.startswith("|")][:2]
            merged = [new.get(name, row) for name, row in old.items()] + [r for n, r in new.items() if n not in old]
            stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
            ours = (f"Measured by `python -m devtools.drill`; last run on {stamp}{f' ({took})' if took else ''},"
                    f" rows {', '.join(new)}"
                    f" (the other rows from earlier runs{f', the first on {earlier[0]}' if earlier else ''}).\n\n"
                    + "\n".join(header + merged) + "\n")
    block = f"{TABLE_BEGIN}\n{ours}{TABLE_END}"
    if TABLE_BEGIN in text_ and TABLE_END in text_:
        head, rest = text_.split(TABLE_BEGIN, 1)
        tail = rest.split(TABLE_END, 1)[1]
        text_ = head + block + tail
    else:
        text_ += "\n" + block + "\n"
    path.write_text(text_)
