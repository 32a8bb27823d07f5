"""`make bench`: every benchmark under bench/, one after the other, then docs/benchmarks.md's table.

Each benchmark is a module with `main()`; it prints its figures and writes bench/results/<name>.json.
Pass names to run a subset: `python -m bench.run_all e2e_orders sla_timers`.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
SKIP = {"common", "run_all", "report", "http_load", "floor_app", "__init__"}


def discover() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(BENCH_DIR)]) if m.name not in SKIP)


def main() -> None:
    names = sys.argv[1:] or discover()
    failed = []
    for name in names:
        print(f"\n=== bench.{name} ===", flush=True)
        started = time.monotonic()
        module = importlib.import_module(f"bench.{name}")
        saved = sys.argv
        sys.argv = [f"bench.{name}"]  # each benchmark runs with its defaults
        try:
            module.main()
        except Exception as exc:
            print(f"bench.{name} failed: {exc!r}", flush=True)
            failed.append(name)
        finally:
            sys.argv = saved
        print(f"=== bench.{name} took {time.monotonic() - started:.0f}s ===", flush=True)
    from bench.report import main as write_report

    write_report()
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
