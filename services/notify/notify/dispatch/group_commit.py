"""Group commit: what becomes ready while one transaction is in flight is committed together in the next.

`Outcomes.sent` (the `sent` marks) and `Receipts.apply` (delivery receipts) both wait for their own item's
commit. A caller `submit`s its item and waits; one task commits the items ready now as one group (at most
`max_group`), then the items that became ready meanwhile, and so on. A group that fails is committed again
item by item, so an item that cannot be committed fails only its own caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    def __init__(self, commit: Callable[[Sequence[T]], Awaitable[Sequence[R]]], *, max_group: int, name: str) -> None:
        self.commit = commit  # one transaction for a group; one result per item, in order
        self.max_group = max_group
        self.name = name
        self._ready: list[tuple[T, asyncio.Future[R]]] = []
        self._committer: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Returns `item`'s result once its group is committed; raises what its commit raised."""
        done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._ready.append((item, done))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_ready(), name=self.name)
        return await done

    async def _commit_ready(self) -> None:
        while self._ready:
            group, self._ready = self._ready[:self.max_group], self._ready[self.max_group:]
            try:
                results = await self.commit([item for item, _ in group])
            except Exception as exc:  # noqa: BLE001 - each waiting caller retries or settles its own item
                if len(group) == 1:
                    _fail(group[0][1], exc)
                    continue
                for item, done in group:  # one by one: an item that cannot be committed fails only itself
                    try:
                        (alone,) = await self.commit([item])
                    except Exception as error:  # noqa: BLE001 - as above
                        _fail(done, error)
                    else:
                        _resolve(done, alone)
            else:
                for (_, done), result in zip(group, results, strict=True):
                    _resolve(done, result)


def _resolve(done: asyncio.Future[R], result: R) -> None:
    if not done.done():  # its caller may have been cancelled (stopping)
        done.set_result(result)


def _fail(done: asyncio.Future[R], error: BaseException) -> None:
    if not done.done():
        done.set_exception(error)
