"""The due-timer scan asks the database for the time: an instance whose clock runs 120 s ahead
does not fire early."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import sla.scheduler as scheduler
from sla.scheduler import DueTimerScanner

DB_NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class _Result:
    """The database's answers: its clock, and a timer due at that instant."""

    def scalar_one(self) -> datetime:
        return DB_NOW

    def one(self) -> tuple[datetime, datetime]:
        return DB_NOW, DB_NOW


class _Session:
    def __init__(self) -> None:
        self.statements: list[str] = []

    async def __aenter__(self) -> _Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def begin(self) -> _Session:
        return self

    async def execute(self, stmt: Any) -> _Result:
        self.statements.append(str(stmt))
        return _Result()


async def test_the_scan_uses_the_database_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[datetime] = []

    async def fire(session: Any, catalog: Any, *, now: datetime, batch_size: int, fired_by: str) -> int:
        seen.append(now)
        return 0

    monkeypatch.setattr(scheduler, "fire_due_timers", fire)
    session = _Session()
    scanner = DueTimerScanner(lambda: session, catalog=None,  # type: ignore[arg-type]
                              batch_size=10, interval_s=1.0, fired_by="test")
    await scanner.step()
    assert seen == [DB_NOW]
    assert "clock_timestamp()" in session.statements[0]


class _NestedSession(_Session):
    def begin_nested(self) -> _Session:
        return self


async def test_one_failing_timer_is_deferred_and_the_others_fire(monkeypatch: pytest.MonkeyPatch) -> None:
    due = ["broken", "t1", "t2"]  # the broken one sorts first
    fired: list[str] = []
    deferred: list[str] = []

    async def fire(session: Any, catalog: Any, *, now: datetime, batch_size: int, fired_by: str) -> int:
        taken = due[:batch_size]
        if "broken" in taken:
            raise ValueError("policy no longer fits this timer")
        del due[:batch_size]
        fired.extend(taken)
        return len(taken)

    async def defer(self: Any, session: Any, now: datetime, exc: BaseException) -> None:
        deferred.append(due.pop(0))

    monkeypatch.setattr(scheduler, "fire_due_timers", fire)
    monkeypatch.setattr(DueTimerScanner, "defer_first_due", defer)
    session = _NestedSession()
    scanner = DueTimerScanner(lambda: session, catalog=None,  # type: ignore[arg-type]
                              batch_size=10, interval_s=1.0, fired_by="test")
    await scanner.step()
    assert deferred == ["broken"] and fired == ["t1", "t2"]


async def test_a_database_outage_is_not_isolated_row_by_row(monkeypatch: pytest.MonkeyPatch) -> None:
    async def fire(*_: Any, **__: Any) -> int:
        raise ConnectionRefusedError(111, "Connect call failed")

    monkeypatch.setattr(scheduler, "fire_due_timers", fire)
    scanner = DueTimerScanner(lambda: _NestedSession(), catalog=None,  # type: ignore[arg-type]
                              batch_size=10, interval_s=1.0, fired_by="test")
    with pytest.raises(ConnectionRefusedError):
        await scanner.step()


async def test_a_pass_with_nothing_due_is_one_statement(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock and the earliest next_fire_at in one statement; nothing due yet: no claim, no second read, and
    the scanner sleeps until that timer."""
    claims: list[datetime] = []

    async def fire(session: Any, catalog: Any, *, now: datetime, batch_size: int, fired_by: str) -> int:
        claims.append(now)
        return 0

    class _Later(_Result):
        def one(self) -> tuple[datetime, datetime]:
            return DB_NOW, DB_NOW + timedelta(seconds=1.5)

    class _LaterSession(_Session):
        async def execute(self, stmt: Any) -> _Result:
            self.statements.append(str(stmt))
            return _Later()

    monkeypatch.setattr(scheduler, "fire_due_timers", fire)
    session = _LaterSession()
    scanner = DueTimerScanner(lambda: session, catalog=None,  # type: ignore[arg-type]
                              batch_size=10, interval_s=0.1, idle_s=30.0, fired_by="test")
    assert await scanner.step() == 1.5
    assert claims == []
    assert len(session.statements) == 1 and "clock_timestamp()" in session.statements[0]
