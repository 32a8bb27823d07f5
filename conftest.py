"""Fixtures shared by every test folder.

Unit tests need none of these. Tests that ask for `infra` get a real PostgreSQL and a real Apache
Kafka, started once per session in `.data/test`. `make test` sets GS_TEST_FRESH_INFRA=1 so each
run starts from wiped data; a bare `pytest` reuses a running test infrastructure (fast local loops,
and safe when several people run tests on one machine). `suite` adds the four services
as real subprocesses, wired to a real SMTP server and a real SMPP server on loopback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
# ENVIRONMENT has no default (backbone.settings): the tests run as `test`, where the HS256 dev issuer
# is accepted. A test that means another environment sets it itself (monkeypatch).
os.environ.setdefault("ENVIRONMENT", "test")
sys.path[:0] = [str(ROOT / p) for p in ("shared", "services/crm", "services/eoms-bridge", "services/sla",
                                         "services/notify", "services/stats", ".")]

from hypothesis import HealthCheck, settings  # noqa: E402

from devtools import infra as devinfra  # noqa: E402

# No timing in tests: hypothesis' per-example deadline fails on a loaded 2-core machine for no
# fault of the code (speed is measured by `make bench`, not asserted).
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")
from devtools.infra import Infra  # noqa: E402


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Anything that uses the real infrastructure is marked, so `make test-unit` can leave it out.
    for item in items:
        if {"infra", "suite", "keycloak"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.infra)


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    profile = devinfra.test_profile()
    fresh = bool(os.environ.get("GS_TEST_FRESH_INFRA"))
    if fresh:
        devinfra.reset(profile.name)
    started = devinfra.start(profile.name, fast=True)
    from backbone.release import migrate_all

    migrate_all(started.database_url)
    os.environ.update(started.env())
    yield started
    if fresh:
        devinfra.stop_pids(started.started_pids)
        devinfra.stop(profile.name)


class Suite:
    """The four services as subprocesses, plus the SMTP server and the SMSC they send to."""

    def __init__(self, infra: Infra, smtp: object, procs: dict[str, object], smsc: object = None) -> None:
        self.infra = infra
        self.smtp = smtp
        self.procs = procs
        self.smsc = smsc  # devtools.smsc.SmscThread: `.messages` is every SMS it received

    def url(self, service: str) -> str:
        return self.procs[service].url  # type: ignore[attr-defined, no-any-return]

    def token(self, subject: str, *roles: str) -> str:
        from backbone.auth import issue_token
        from backbone.settings import DEV_JWT_SECRET

        return issue_token(subject, list(roles), secret=DEV_JWT_SECRET)

    def auth(self, subject: str, *roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(subject, *roles)}"}


@pytest.fixture(scope="session")
def suite_env() -> dict[str, str]:
    """Extra environment for the services under test (short SLA limits so timers fire in seconds)."""
    return {
        "ENVIRONMENT": "test",
        "SLA_POLICY_FILE": str(ROOT / "tests" / "fixtures" / "sla_policy_short.yaml"),
        # The short policy has rules for the SLA tests' own product `slatest`: its workflows, for the lint.
        "SLA_WORKFLOW_CATALOG_EXTRA": f'["{ROOT / "tests" / "fixtures" / "sla_catalog_slatest.yaml"}"]',
        "CONSUMER_BACKOFF_INITIAL_S": "0.05",
        # The suite sends hundreds of alerts to the same demo people within minutes: keep the
        # storm policy on, but with windows of seconds and no rate limit to silence the tests.
        "RATE_LIMIT": "10000",
        "DIGEST_WINDOW_S": "3",
        "DEDUP_WINDOW_S": "3",
        # The stats scheduler looks for a due daily report every second, not every 30 s: the report test
        # (tests/e2e/test_stats_report_mail.py) waits for its pass (one indexed query).
        "REPORT_CHECK_INTERVAL_S": "1",
    }


@pytest.fixture(scope="session")
def suite(infra: Infra, suite_env: dict[str, str]) -> Iterator[Suite]:
    from devtools.demo import seed
    from devtools.infra import free_port
    from devtools.smsc import start_in_thread
    from devtools.smtp import SmtpServer
    from devtools.suite import SERVICES, ServiceProcess

    seed(infra.database_url)
    smtp = SmtpServer(port=free_port(), echo=False).start()
    env = {**infra.env(), **suite_env, "SMTP_URL": smtp.url}
    smsc = start_in_thread(port=free_port())
    env["SMPP_URL"] = smsc.url
    logs = devinfra.test_profile().data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    procs = {s.name: ServiceProcess(s, env, free_port(), logs / f"{s.name}.log").start(wait=False) for s in SERVICES}
    try:
        for p in procs.values():
            p.wait_ready()
        yield Suite(infra, smtp, procs, smsc)  # type: ignore[arg-type]
    finally:
        for p in procs.values():
            p.stop()
        smtp.stop()
        smsc.stop()
