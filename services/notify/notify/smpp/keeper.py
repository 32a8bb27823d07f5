"""The process's SMPP session as a background worker: bind at start, retrying while the SMSC is down.

Once bound, the `SmppClient` keeps the session up itself (enquire_link, reconnect with backoff);
this worker only gets it bound the first time. The client is closed by the runtime's stop hook,
after the dispatch workers have stopped.
"""

from __future__ import annotations

import logging

from backbone.workers import Backoff, Worker
from notify.smpp.client import SmppClient

log = logging.getLogger("notify.smpp")

BOUND_CHECK_S = 60.0  # nothing to do once bound: the client reconnects by itself


class SmppSessionKeeper(Worker):
    def __init__(self, client: SmppClient, *, backoff: Backoff | None = None,
                 name: str = "notify-smpp-session") -> None:
        super().__init__(name)
        self.client = client
        self.backoff = backoff or Backoff(initial_s=0.5, max_s=30.0)
        self.attempts = 0

    async def step(self) -> float:
        try:
            await self.client.connect()  # a no-op once the client's session supervisor runs
        except Exception as exc:  # noqa: BLE001 - SMSC down / refusing: keep trying, it is not our failure
            self.attempts += 1
            delay = self.backoff.delay(self.attempts)
            log.warning("SMPP bind failed (%r); retrying in %.1fs", exc, delay)
            return delay
        self.attempts = 0
        return BOUND_CHECK_S
