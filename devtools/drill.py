"""Fault drills on real PostgreSQL, real Apache Kafka and the services as real processes (`make drill`,
profile "drill": its own data folder and ports, never the `run` or `test` servers, because the
drills stop, freeze and kill them).

Two kinds (devtools/drills/):
- lane drills (`devtools.drills.lane`): one lane of the delivery guarantee in this process (writer →
  outbox → two relays → Kafka → two consumers → inbox + effect) while PostgreSQL is stopped or
  killed, the relay's lock connection terminated, a poison row queued, a DLQ topic missing;
- stack drills (`devtools.drills.stack`): the four services as subprocesses, the SMTP server and the
  SMSC, orders posted over HTTP while a service is killed -9, the broker killed -9 or frozen
  (SIGSTOP: a partition), a consumer replica killed mid-rebalance, the SMTP server and the SMSC down;
  counted at the edges (every order one ticket, every ticket one timer, every alert notified, every
  message received once).

    python -m devtools.drill [--only NAME ...] [--fast] [--table docs/reliability.md] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path

from devtools import infra as infra_mod
from devtools.drills.common import PROFILE, Result, say, table, write_table
from devtools.drills.lane import FAST_DRILLS, slow_drills
from devtools.drills.stack import stack_drills

__all__ = ["FAST_DRILLS", "main", "run"]

log = logging.getLogger("drill")


async def run(only: list[str] | None, fast: bool, keep_servers: bool = False) -> list[Result]:
    for var in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        os.environ.pop(var, None)  # the drill profile's own servers, never another's
    profile = infra_mod.InfraProfile.named(PROFILE)
    started = await asyncio.to_thread(infra_mod.start, PROFILE)
    try:
        return await _run_drills(started, profile, only, fast)
    finally:
        # A run that started the profile's servers (or one of them) stops them when it ends, with any a drill
        # restarted (drills.common records those): an idle broker left behind costs ~1.5 % of a core. A run on
        # servers that were all up already leaves them up, as does --keep-servers.
        if started.started_pids and not keep_servers:
            await asyncio.to_thread(infra_mod.stop, PROFILE)


async def _run_drills(started: infra_mod.Infra, profile: infra_mod.InfraProfile, only: list[str] | None,
                      fast: bool) -> list[Result]:
    urls = (started.database_url, started.kafka_bootstrap)
    drills: dict[str, tuple[bool, Callable[[], Awaitable[Result]]]] = {
        **{name: (False, fn) for name, fn in slow_drills(urls, profile).items()},
        **{name: (True, partial(fn, urls)) for name, fn in FAST_DRILLS.items()},
        **{name: (False, fn) for name, fn in stack_drills(started, profile).items()},
    }
    results: list[Result] = []
    for name, (is_fast, drill) in drills.items():
        if only and name not in only:
            continue
        if fast and not is_fast:
            continue
        say(f"== {name}")
        began = time.monotonic()
        try:
            result = await drill()
        except Exception as exc:  # one broken drill must not lose the others' rows
            log.exception("drill %s crashed", name)
            result = Result(name, "(the drill itself crashed)", "", failed_checks=[f"drill crashed: {exc!r}"[:300]])
        result.notes.append(f"drill time {(time.monotonic() - began) / 60:.1f} min")
        say(f"{name}: {json.dumps(asdict(result))}")
        results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="drills to run (see docs/reliability.md for the names)")
    parser.add_argument("--fast", action="store_true", help="only the drills that need no long outage")
    parser.add_argument("--table", type=Path, help="rewrite the drill table in this Markdown file")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--keep-servers", action="store_true",
                        help="leave the PostgreSQL and Kafka this run started running (`python -m devtools.infra down "
                             "--profile drill` stops them)")
    args = parser.parse_args()
    logging.basicConfig(level=os.environ.get("DRILL_LOG_LEVEL", "WARNING"),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    began = time.monotonic()
    results = asyncio.run(run(args.only, args.fast, args.keep_servers))
    took = (f"{len(results)} drills in {(time.monotonic() - began) / 60:.1f} min, load average"
            f" {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    say(took)
    print(table(results, took))
    if args.table:
        write_table(args.table, results, took)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    sys.exit(0 if all(r.ok for r in results) else 1)


if __name__ == "__main__":
    main()
