"""Every operation of the four services' OpenAPI documents, fuzzed by schemathesis with authentication:
no answer is a 5xx (docs/security.md, "Hostile input").

`make test` runs a small budget (GS_FUZZ_EXAMPLES, 2 examples per operation and generation mode);
`make fuzz` a larger one. The services run in-process against a database of their own
(`groupsuite_fuzz`, migrated afresh each session), so the fuzzer's rows never reach the suite's
relays, consumers or tests. /readyz (503 by design: the runtime is not started) and the SSE stream
(endless by design) are left out.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from typing import Any

import pytest
import pytest_asyncio
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode

from backbone.auth import issue_token
from backbone.settings import DEV_JWT_SECRET
from backbone.vocabulary import TOKEN_ROLES
from tests.security.conftest import WithoutLifespan, migrated_database

EXAMPLES = int(os.environ.get("GS_FUZZ_EXAMPLES", "2"))
FUZZ_DB = "groupsuite_fuzz"
# Every role: the fuzzer should reach the handlers, not stop at a 403.
TOKEN = issue_token("fuzz_all_roles", sorted(TOKEN_ROLES), secret=DEV_JWT_SECRET)
EXCLUDED_PATHS = ("/readyz", "/api/v1/stream")


@pytest.fixture(scope="session")
def fuzz_database(infra: Any) -> str:
    return migrated_database(infra.database_url, FUZZ_DB)


@pytest_asyncio.fixture(scope="session")
async def fuzz_apps(fuzz_database: str, service_apps: Any) -> dict[str, FastAPI]:
    apps: dict[str, FastAPI] = service_apps(fuzz_database)
    return apps


def _schema(app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", WithoutLifespan(app)).exclude(path=list(EXCLUDED_PATHS))


def server_errors(operation: Any, mode: GenerationMode, seen: Counter[int]) -> list[str]:
    """Up to EXAMPLES cases of one operation in one generation mode; the 5xx answers, with a curl line."""
    found: list[str] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate])
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
        seen[response.status_code] += 1
        if response.status_code >= 500 and len(found) < 3:
            found.append(f"{case.method} {case.formatted_path} ({mode}) answered {response.status_code}: "
                         f"{response.text[:300]}\n    reproduce: {case.as_curl_command()}")

    with contextlib.suppress(Unsatisfiable):  # nothing to make invalid (no parameters, no body)
        run()
    return found


@pytest.mark.parametrize("service", ["crm", "eoms-bridge", "sla", "notify"])
def test_security_fuzz_no_server_errors(service: str, fuzz_apps: dict[str, FastAPI]) -> None:
    failures: list[str] = []
    seen: Counter[int] = Counter()
    operations = 0
    for result in _schema(fuzz_apps[service]).get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += server_errors(operation, mode, seen)
    print(f"{service}: {operations} operations, answers {dict(sorted(seen.items()))}")
    assert not failures, "\n".join(failures)
    # The token was accepted and handlers were reached (not a run of 401s).
    assert operations > 3 and sum(n for status, n in seen.items() if status < 300) >= operations // 2
