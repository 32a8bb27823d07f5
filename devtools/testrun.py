"""`make test`: the whole test suite in two lanes that run side by side.

Most of the suite waits on PostgreSQL, Kafka and its own subprocesses; the console's build, its unit
tests and the browser tests mostly burn Node's and Chromium's CPU. Run one after the other they took
13 minutes on two cores; beside each other they share the machine instead of leaving a core idle.

- lane `services`: wiped PostgreSQL and Kafka of the `test` profile started (outside any test's
  timeout), then pytest over every test but the browser ones and Keycloak's. Its output streams.
- lane `console`: PostgreSQL and Kafka of its own (profile `test-browser`, so the lanes never see each
  other's data), the console's dependencies and build (devtools.console_build), the OpenAPI snapshot
  check, the console's unit tests (vitest), Debian's Chromium when missing, Keycloak's realm database
  template (its slow first start, outside any test's timeout), then pytest over tests/browser and the
  Keycloak tests. Its output is kept in .data/test-browser/lane.log and printed after the first
  lane's, each step timed.

Each lane stops its servers at the end, passed or failed. The exit status is the first failing lane's.
`python -m devtools.testrun --lane services|console` runs one lane; extra arguments after `--` go to
both pytest runs (e.g. `-x`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from devtools.infra import PROJECT_ROOT, InfraProfile

PY = sys.executable
#: Tests the console lane runs (the services lane leaves them out).
CONSOLE_LANE_TESTS = ("tests/browser", "tests/security/test_security_keycloak.py")
#: The slowest tests are listed at the end of each run: where the next minute of `make test` is.
PYTEST = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=15"]


@dataclass
class Step:
    name: str
    argv: list[str]
    cwd: Path = PROJECT_ROOT
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Lane:
    name: str
    steps: list[Step]
    log_path: Path | None = None  # None: stream to this terminal
    cleanup: list[Step] = field(default_factory=list)  # run whatever happened (stop the servers)
    timings: list[tuple[str, float, int]] = field(default_factory=list)
    returncode: int = 0

    def run(self) -> None:
        out = open(self.log_path, "w", encoding="utf-8") if self.log_path else None  # noqa: SIM115
        try:
            for step in self.steps:
                rc = self._step(step, out)
                if rc != 0:
                    self.returncode = rc
                    break
            for step in self.cleanup:
                self._step(step, out)
        finally:
            if out:
                out.close()

    def _step(self, step: Step, out: TextIO | None) -> int:
        started = time.monotonic()
        if out:
            out.write(f"\n==== [{self.name}] {step.name}: {' '.join(step.argv)}\n")
            out.flush()
        rc = subprocess.call(step.argv, cwd=step.cwd, env={**os.environ, **step.env},
                             stdout=out or None, stderr=subprocess.STDOUT if out else None)
        took = time.monotonic() - started
        self.timings.append((step.name, took, rc))
        print(f"[{self.name}] {step.name}: {'ok' if rc == 0 else f'FAILED (exit {rc})'} in {took:.0f} s",
              file=sys.stderr, flush=True)
        return rc


def ensure_chromium() -> None:
    """Debian's Chromium (never a browser Playwright downloads) and a CJK font, installed when missing."""
    fonts = subprocess.call(["dpkg", "-s", "fonts-wqy-zenhei"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL) == 0 if shutil.which("dpkg") else True
    if shutil.which("chromium") and fonts:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium", "fonts-wqy-zenhei"], check=True, env=env)


def infra_up(profile: str) -> Step:
    """Wiped PostgreSQL and Kafka for the lane, started before pytest: on a fresh machine resolving Kafka's
    jars and a first start on a busy machine can take minutes, which no test's timeout should pay."""
    return Step(f"infrastructure ({profile})",
                [PY, "-m", "devtools.infra", "up", "--profile", profile, "--fresh", "--fast"])


def infra_down(profile: str) -> Step:
    return Step(f"stop infrastructure ({profile})", [PY, "-m", "devtools.infra", "down", "--profile", profile])


def services_lane(extra: list[str]) -> Lane:
    ignores = [f"--ignore={t}" for t in CONSOLE_LANE_TESTS]
    return Lane("services", [infra_up("test"), Step("pytest", [*PYTEST, *ignores, *extra])],
                cleanup=[infra_down("test")])


def console_lane(extra: list[str], *, log: bool) -> Lane:
    profile = InfraProfile.named("test-browser")
    profile.data_dir.mkdir(parents=True, exist_ok=True)
    env = {"GS_TEST_PROFILE": profile.name}
    return Lane("console", [
        infra_up(profile.name),
        Step("console build", [PY, "-m", "devtools.console_build"]),
        Step("OpenAPI snapshots", [PY, "console/scripts/openapi.py", "--check"]),
        Step("console unit tests", ["npm", "test"], cwd=PROJECT_ROOT / "console"),
        Step("chromium", [PY, "-m", "devtools.testrun", "--ensure-chromium"]),
        Step("keycloak template", [PY, "-m", "devtools.keycloak", "prepare", "--profile", profile.name]),
        Step("pytest (browser, keycloak)", [*PYTEST, *CONSOLE_LANE_TESTS, *extra], env=env),
    ], log_path=profile.data_dir / "lane.log" if log else None, cleanup=[infra_down(profile.name)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lane", choices=("services", "console"), help="run one lane only (in this terminal)")
    parser.add_argument("--ensure-chromium", action="store_true", help="install Debian's chromium when missing")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    args = parser.parse_args(argv)
    if args.ensure_chromium:
        ensure_chromium()
        return 0
    if args.lane:
        lane = services_lane(args.pytest_args) if args.lane == "services" else console_lane(args.pytest_args, log=False)
        lane.run()
        return lane.returncode

    started = time.monotonic()
    services, console = services_lane(args.pytest_args), console_lane(args.pytest_args, log=True)
    side = threading.Thread(target=console.run, name="console-lane")
    side.start()
    services.run()
    side.join()
    if console.log_path:
        print(f"\n==== console lane output ({console.log_path})", flush=True)
        print(console.log_path.read_text(encoding="utf-8", errors="replace"), flush=True)
    print(f"\n==== make test: {time.monotonic() - started:.0f} s", flush=True)
    for lane in (services, console):
        for name, took, rc in lane.timings:
            print(f"  {lane.name:<9} {name:<28} {took:6.0f} s  {'ok' if rc == 0 else f'FAILED ({rc})'}", flush=True)
    return services.returncode or console.returncode


if __name__ == "__main__":
    sys.exit(main())
