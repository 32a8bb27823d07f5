"""The backbone's background-worker loop, backoff, and the one domain-error → problem+json mapping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from backbone.api import create_app
from backbone.errors import Conflict, Forbidden, IllegalTransition, Invalid, NotFound, Unavailable
from backbone.workers import Backoff, Worker, until_due


@given(
    initial=st.floats(min_value=0.001, max_value=10),
    cap=st.floats(min_value=0.001, max_value=600),
    jitter=st.floats(min_value=0, max_value=1),
    attempt=st.integers(min_value=1, max_value=10_000),
)
def test_backoff_never_exceeds_its_cap_and_jitter_only_shortens(initial, cap, jitter, attempt):
    b = Backoff(initial, cap, jitter)
    base = min(cap, initial * 2 ** min(attempt - 1, 32))
    d = b.delay(attempt)
    assert base * (1 - jitter) - 1e-9 <= d <= base + 1e-9
    assert d <= cap + 1e-9


def test_backoff_without_jitter_doubles_up_to_the_cap():
    b = Backoff(0.5, 3.0, jitter=0)
    assert [b.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


class Flaky(Worker):
    """Fails its first two passes, then counts passes until stopped."""

    error_backoff = Backoff(0.001, 0.002)

    def __init__(self) -> None:
        super().__init__("flaky")
        self.passes = 0
        self.resets = 0
        self.torn_down = False

    async def step(self) -> float:
        self.passes += 1
        if self.passes <= 2:
            raise ConnectionError("database hiccup")
        if self.passes == 5:
            self.stop()
        return 0.0

    async def reset(self) -> None:
        self.resets += 1

    async def teardown(self) -> None:
        self.torn_down = True


async def test_a_failing_pass_is_retried_after_reset_and_the_loop_goes_on():
    w = Flaky()
    await asyncio.wait_for(w.run(), timeout=30)
    assert w.passes == 5 and w.resets == 2 and w.torn_down
    assert w.health() == "ok" and w.last_pass is not None


async def test_wake_cuts_a_wait_short_and_stop_ends_the_loop():
    passes: list[int] = []

    async def one_pass() -> None:
        passes.append(1)

    w = Worker.every("sleepy", 3600, one_pass)  # would sleep an hour between passes
    task = asyncio.create_task(w.run())
    while not passes:
        await asyncio.sleep(0.01)
    w.wake()
    while len(passes) < 2:
        await asyncio.sleep(0.01)
    w.stop()
    await asyncio.wait_for(task, timeout=30)
    assert len(passes) == 2


class Ticket404(NotFound):
    code = "ticket_not_found"


@asynccontextmanager
async def _no_runtime(app: FastAPI) -> AsyncIterator[None]:
    yield


def _app() -> TestClient:
    app = create_app(title="t", version="0", description="d", lifespan=_no_runtime, runtime_getter=lambda: None)
    errors = {
        "invalid": Invalid("outcome 'x' is not defined on node survey", field="outcome"),
        "missing": Ticket404("no ticket tkt_1"),
        "conflict": Conflict("version 3 exists with another content"),
        "forbidden": Forbidden("only the assignee completes a node"),
        "down": Unavailable("the external EOMS does not answer"),
        "illegal": IllegalTransition("cannot submit a closed order", entity="order", from_state="closed",
                                     action="submit", field="status"),
        "several": Invalid("2 problems", errors=[{"field": "a", "message": "x"}, {"field": "b", "message": "y"}]),
    }

    @app.get("/raise/{name}")
    async def raise_(name: str) -> None:
        raise errors[name]

    return TestClient(app)


@pytest.mark.parametrize(("name", "status", "code"), [
    ("invalid", 422, "domain_error"), ("missing", 404, "ticket_not_found"), ("conflict", 409, "conflict"),
    ("forbidden", 403, "forbidden"), ("down", 503, "unavailable"), ("illegal", 409, "illegal_transition"),
])
def test_each_error_kind_maps_to_its_status_as_problem_json(name, status, code):
    r = _app().get(f"/raise/{name}")
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["code"] == code and body["instance"] == f"/raise/{name}"
    assert body["detail"]


def test_the_problem_names_the_field_and_carries_the_transition():
    c = _app()
    assert c.get("/raise/invalid").json()["errors"] == [
        {"field": "outcome", "message": "outcome 'x' is not defined on node survey"}]
    body = c.get("/raise/illegal").json()
    assert body["title"] == "Illegal transition"
    assert (body["entity"], body["from_state"], body["action"]) == ("order", "closed", "submit")
    assert body["errors"][0]["field"] == "status"
    assert [e["field"] for e in c.get("/raise/several").json()["errors"]] == ["a", "b"]


# -- until_due: an idle worker's sleep, until its next item is due, within its bounds

_seconds = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
_bound = st.floats(min_value=0, max_value=3600, allow_nan=False)


def test_nothing_due_sleeps_the_longest() -> None:
    assert until_due(None, at_least_s=0.1, at_most_s=5.0) == 5.0


@given(_seconds, _bound, _bound)
def test_the_sleep_is_the_due_time_clamped_to_the_bounds(due_in: float, a: float, b: float) -> None:
    at_least, at_most = min(a, b), max(a, b)
    wait = until_due(due_in, at_least_s=at_least, at_most_s=at_most)
    assert at_least <= wait <= at_most
    if at_least <= due_in <= at_most:
        assert wait == due_in
