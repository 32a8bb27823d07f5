"""`make test`: the whole test suite in three lanes that run side by side.

Most of the suite waits on PostgreSQL, Kafka and its own subprocesses; the console's build, its unit
tests and the browser tests mostly burn Node's and Chromium's CPU. Run one after the other they took
13 minutes on two cores; beside each other they share the machine instead of leaving a core idle.

- lane `services`: wiped PostgreSQL and Kafka of the `test` profile started (outside any test's
  timeout), then pytest over services/ (each service's unit and integration tests). Its output streams.
- lane `platform`: the same on a profile of its own (`test-platform`) for shared/ and tests/ (the backbone,
  contract, end-to-end, security and drill tests) but the console lane's, then the service tests of
  SERVICE_TESTS_IN_PLATFORM_LANE (mostly waiting, moved over so the two lanes end near each other). Its
  output is kept in .data/test-platform/lane.log and printed after the first lane's.
- lane `console`: PostgreSQL and Kafka of its own (profile `test-browser`), the console's dependencies and
  build (devtools.console_build), the OpenAPI snapshot check, the console's unit tests (vitest), Debian's
  Chromium when missing, Keycloak's realm database template (its slow first start, outside any test's
  timeout), then pytest over tests/browser and the Keycloak tests (every test that starts Keycloak). Its
  output is kept in .data/test-browser/lane.log.

The lanes never see each other's data. Most of the suite waits (on servers, subprocesses, timers), so
three lanes share two cores well: one after the other they left the machine half idle.
Each lane stops its servers at the end, passed or failed. The exit status is the first failing lane's.
`python -m devtools.testrun --lane services|platform|console` runs one lane; extra arguments after `--` go
to every pytest run (e.g. `-x`).
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
#: Tests each lane runs (the platform lane leaves the console lane's out).
SERVICES_LANE_TESTS = ("services",)
#: Service tests the platform lane runs instead, after its own (so the lanes end near each other): the SLA
#: service's processes, which mostly wait on their timers (its docstring: it shares a session with `suite`).
#: On a quiet machine the platform lane's pytest took 268 s, the services lane's about 360 s.
SERVICE_TESTS_IN_PLATFORM_LANE = ("services/sla/tests/integration/test_sla_service.py",)
PLATFORM_LANE_TESTS = ("shared", "tests", *SERVICE_TESTS_IN_PLATFORM_LANE)
#: Every test that starts Keycloak runs in the console lane, after its "keycloak template" step and on one
#: Keycloak per session (tests/security/conftest.py): in the platform lane the roles test started a second
#: Keycloak of its own (80-170 s of a JVM's start on the critical path, and a timeout when the template was
#: not made yet).
CONSOLE_LANE_TESTS = ("tests/browser", "tests/security/test_security_keycloak.py",
                      "tests/security/test_security_keycloak_roles.py")
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
    ignores = [f"--ignore={t}" for t in SERVICE_TESTS_IN_PLATFORM_LANE]
    return Lane("services", [infra_up("test"), Step("pytest", [*PYTEST, *SERVICES_LANE_TESTS, *ignores, *extra])],
                cleanup=[infra_down("test")])


def platform_lane(extra: list[str], *, log: bool) -> Lane:
    profile = InfraProfile.named("test-platform")
    profile.data_dir.mkdir(parents=True, exist_ok=True)
    ignores = [f"--ignore={t}" for t in CONSOLE_LANE_TESTS]
    return Lane("platform", [
        infra_up(profile.name),
        Step("pytest", [*PYTEST, *PLATFORM_LANE_TESTS, *ignores, *extra], env={"GS_TEST_PROFILE": profile.name}),
    ], log_path=profile.data_dir / "lane.log" if log else None, cleanup=[infra_down(profile.name)])


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
    parser.add_argument("--lane", choices=("services", "platform", "console"),
                        help="run one lane only (in this terminal)")
    parser.add_argument("--ensure-chromium", action="store_true", help="install Debian's chromium when missing")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    args = parser.parse_args(argv)
    if args.ensure_chromium:
        ensure_chromium()
        return 0
    if args.lane:
        lane = {"services": lambda: services_lane(args.pytest_args),
                "platform": lambda: platform_lane(args.pytest_args, log=False),
                "console": lambda: console_lane(args.pytest_args, log=False)}[args.lane]()
        lane.run()
        return lane.returncode

    started = time.monotonic()
    services = services_lane(args.pytest_args)
    sides = [platform_lane(args.pytest_args, log=True), console_lane(args.pytest_args, log=True)]
    threads = [threading.Thread(target=lane.run, name=f"{lane.name}-lane") for lane in sides]
    for thread in threads:
        thread.start()
    services.run()
    for thread in threads:
        thread.join()
    for lane in sides:
        if lane.log_path:
            print(f"\n==== {lane.name} lane output ({lane.log_path})", flush=True)
            print(lane.log_path.read_text(encoding="utf-8", errors="replace"), flush=True)
    print(f"\n==== make test: {time.monotonic() - started:.0f} s", flush=True)
    lanes = [services, *sides]
    for lane in lanes:
        for name, took, rc in lane.timings:
            print(f"  {lane.name:<9} {name:<34} {took:6.0f} s  {'ok' if rc == 0 else f'FAILED ({rc})'}", flush=True)
    return next((lane.returncode for lane in lanes if lane.returncode), 0)


if __name__ == "__main__":
    sys.exit(main())
