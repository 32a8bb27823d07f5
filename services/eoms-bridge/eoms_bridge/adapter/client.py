"""HTTP client of an external EOMS: timeouts, retries with backoff, and a circuit breaker.

The breaker guards the remote side: after `failure_threshold` consecutive failures it opens and
calls fail fast (no request is sent); after `reset_timeout_s` it lets one trial call through
(half-open); success closes it, failure opens it again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import httpx
from prometheus_client import Counter, Gauge

from backbone.workers import Backoff


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpenError(Exception):
    """The breaker is open: the call was not attempted."""

    def __init__(self, retry_in_s: float) -> None:
        super().__init__(f"circuit open; next trial in {retry_in_s:.2f}s")
        self.retry_in_s = retry_in_s


class EomsRejectedError(Exception):
    """The EOMS answered 4xx: retrying the same message cannot help."""


class EomsUnavailableError(Exception):
    """Timeouts, connection errors or 5xx after every retry."""


class CircuitBreaker:
    def __init__(self, *, failure_threshold: int = 5, reset_timeout_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False
        self.transitions: list[BreakerState] = []  # for tests and /metrics-style inspection

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.reset_timeout_s:
            self._to(BreakerState.HALF_OPEN)
        return self._state

    def before_call(self) -> None:
        """Raise CircuitOpenError unless a call may go out now."""
        state = self.state
        if state is BreakerState.OPEN:
            raise CircuitOpenError(self.reset_timeout_s - (self._clock() - self._opened_at))
        if state is BreakerState.HALF_OPEN:
            if self._trial_in_flight:
                raise CircuitOpenError(0.05)  # one trial at a time
            self._trial_in_flight = True

    def on_success(self) -> None:
        self._trial_in_flight = False
        self._failures = 0
        if self._state is not BreakerState.CLOSED:
            self._to(BreakerState.CLOSED)

    def on_failure(self) -> None:
        self._trial_in_flight = False
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or (
            self._state is BreakerState.CLOSED and self._failures >= self.failure_threshold
        ):
            self._opened_at = self._clock()
            self._to(BreakerState.OPEN)

    def _to(self, state: BreakerState) -> None:
        self._state = state
        self.transitions.append(state)
        BREAKER_STATE.set({BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}[state])


BREAKER_STATE = Gauge("eoms_adapter_breaker_state", "External EOMS circuit: 0 closed, 1 half-open, 2 open")
ADAPTER_CALLS = Counter("eoms_adapter_calls_total", "HTTP calls to the external EOMS", ["outcome"])


class EomsClient:
    """POSTs messages to the external EOMS. One instance per process (it owns the breaker)."""

    def __init__(
        self, base_url: str, *, timeout_s: float = 2.0, max_attempts: int = 3, backoff_initial_s: float = 0.1,
        backoff_max_s: float = 2.0, breaker: CircuitBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_attempts = max_attempts
        # Jitter takes up to half off each delay: instances that failed together do not retry in lockstep.
        self.backoff = Backoff(initial_s=backoff_initial_s, max_s=backoff_max_s, jitter=0.5)
        self.breaker = breaker or CircuitBreaker()
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=httpx.Timeout(timeout_s),
                                       transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with retries; raises CircuitOpenError, EomsRejectedError or EomsUnavailableError."""
        last: str = "no attempt"
        for attempt in range(1, self.max_attempts + 1):
            self.breaker.before_call()
            try:
                r = await self._http.post(path, json=body)
            except httpx.TimeoutException as exc:
                last = f"timeout: {type(exc).__name__}"
            except httpx.TransportError as exc:
                last = f"transport: {type(exc).__name__}: {exc}"
            else:
                if r.status_code < 400:
                    self.breaker.on_success()
                    ADAPTER_CALLS.labels("ok").inc()
                    try:
                        out = r.json()
                    except ValueError:
                        out = {}
                    return out if isinstance(out, dict) else {}
                if r.status_code < 500 and r.status_code != 429:
                    # The EOMS is up and said no: not a breaker failure, and no retry.
                    self.breaker.on_success()
                    ADAPTER_CALLS.labels("rejected").inc()
                    raise EomsRejectedError(f"{r.status_code}: {r.text[:500]}")
                last = f"HTTP {r.status_code}"
            self.breaker.on_failure()
            ADAPTER_CALLS.labels("failed").inc()
            if attempt < self.max_attempts:
                await asyncio.sleep(self.backoff.delay(attempt))
        raise EomsUnavailableError(f"{path}: {last} after {self.max_attempts} attempts")
