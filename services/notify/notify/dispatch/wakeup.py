"""The wake-up call of idle dispatch workers: rows were just committed for a channel, go and claim them."""

from __future__ import annotations

from backbone.workers import Worker


class Wakeup:
    """The idle dispatch workers of each channel, and the wake-up call for them.

    The generation counter of a channel catches a wake that lands while a worker's claim is in
    flight (the worker then claims again instead of going idle).
    """

    def __init__(self, channels: tuple[str, ...] = ("email", "sms")) -> None:
        self._idle: dict[str, list[Worker]] = {ch: [] for ch in channels}
        self.generation: dict[str, int] = dict.fromkeys(channels, 0)

    def wake(self, channel: str | None = None, *, count: int | None = None) -> None:
        """Rows were queued (committed) for `channel` (None: every channel): release idle workers."""
        for ch in (channel,) if channel else tuple(self._idle):
            self.generation[ch] += 1
            waiters = self._idle[ch]
            for _ in range(len(waiters) if count is None else min(count, len(waiters))):
                waiters.pop(0).wake()

    def idle(self, channel: str, worker: Worker) -> None:
        if worker not in self._idle[channel]:
            self._idle[channel].append(worker)

    def busy(self, channel: str, worker: Worker) -> None:
        if worker in self._idle[channel]:
            self._idle[channel].remove(worker)
