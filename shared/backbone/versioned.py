"""Versioned business configuration, read cheaply: a per-transaction memo and a per-process cache.

Workflows, SLA policies and the notification directory are versioned rows (every instance agrees on
the newest one through the database). Two mechanics serve all three:

- `once_per_transaction(session, key, compute)`: the newest version is asked once per transaction,
  so a consumer run of hundreds of events shares one answer (and one consistent view);
- `VersionedCache`: the parsed document of a version is kept per process and re-read only when
  the version number changes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


async def once_per_transaction(session: AsyncSession, key: str, compute: Callable[[], Awaitable[T]]) -> T:
    """`compute()` once per transaction of `session` (every call, outside a transaction)."""
    transaction = session.sync_session.get_transaction()
    held = session.info.get(key)
    if held is not None and transaction is not None and held[0] is transaction:
        return held[1]  # type: ignore[no-any-return]
    value = await compute()
    if transaction is not None:
        session.info[key] = (transaction, value)
    return value


def transaction_memo(session: AsyncSession, key: str) -> dict[Any, Any]:
    """A dict that lives as long as the session's current transaction (answers keyed by argument)."""
    transaction = session.sync_session.get_transaction()
    held = session.info.get(key)
    if held is None or held[0] is not transaction:
        held = session.info[key] = (transaction, {})
    memo: dict[Any, Any] = held[1]
    return memo


class VersionedCache(Generic[T]):
    """The parsed content of the newest version, re-parsed only when the version changes."""

    def __init__(self, parse: Callable[[Any], T]) -> None:
        self._parse = parse
        self.version: int | None = None
        self._value: T | None = None

    async def get(self, version: int, load: Callable[[], Awaitable[Any]]) -> T:
        """The content of `version`; `load()` fetches its raw content when it is not the cached one."""
        if self._value is None or version != self.version:
            self._value = self._parse(await load())
            self.version = version
        return self._value
