"""A circuit breaker per subscriber: a dead listener stops being called for a while, so it costs
nothing to the others (its rows are not even claimed while the breaker is open).

closed --(failure_threshold failures in a row)--> open --(reset_s)--> half-open (one trial batch)
half-open --success--> closed; half-open --failure--> open again (for reset_s).
Pure: the clock is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass
class Breaker:
    failure_threshold: int = 5
    reset_s: float = 30.0
    failures: int = 0
    opened_at: float | None = field(default=None)

    def state(self, now: float) -> str:
        if self.opened_at is None:
            return CLOSED
        return OPEN if now - self.opened_at < self.reset_s else HALF_OPEN

    def allows(self, now: float) -> bool:
        return self.state(now) != OPEN

    def reopens_at(self) -> float | None:
        return None if self.opened_at is None else self.opened_at + self.reset_s

    def record_success(self) -> None:
        self.failures = 0
        self.opened_at = None

    def record_failure(self, now: float) -> bool:
        """Count a failure; True when this failure opened (or re-opened) the breaker."""
        self.failures += 1
        if self.opened_at is not None and now - self.opened_at < self.reset_s:
            return False  # already open (a callback that was in flight failed too)
        half_open = self.opened_at is not None
        if half_open or self.failures >= self.failure_threshold:
            self.opened_at = now
            return True
        return False
