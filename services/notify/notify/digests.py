"""The digest worker: every DIGEST_INTERVAL_S, queue the due summaries of people with digested alerts.

With no digested alert waiting it sleeps DIGEST_IDLE_POLL_S (30 s) instead: the alert consumer's commits
wake it (`ConsumerRunner.wake_on_commit`, wired in bootstrap), so a first digested alert starts the
1 s passes at once; the idle poll is the fallback for alerts another instance digested. While it is
busy (alerts waiting) those wake-ups are ignored: passes stay DIGEST_INTERVAL_S apart under a storm."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone.workers import Worker
from notify.domain.templates import TemplateStore
from notify.services.deliveries import people_with_pending_digests, queue_digest
from notify.services.directory import DirectoryCache
from notify.settings import NotifySettings


class DigestWorker(Worker):
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        directory: DirectoryCache,
        templates: TemplateStore,
        settings: NotifySettings,
        on_queued: Callable[[], None],
    ) -> None:
        super().__init__("notify-digests")
        self.session_factory = session_factory
        self.directory = directory
        self.templates = templates
        self.settings = settings
        self.on_queued = on_queued  # after a commit that queued a summary (wakes the dispatch workers)
        self.idle = False  # the last pass found no digested alert waiting
        self._poked = False  # woken during the current pass (its read may predate the commit)

    def wake(self) -> None:
        self._poked = True
        if self.idle:
            super().wake()

    async def step(self) -> float:
        self._poked = False
        async with self.session_factory() as session:
            people = await people_with_pending_digests(session)
        self.idle = not people
        if self.idle:
            # A commit that came during the read may not be in it: look again soon.
            return self.settings.digest_interval_s if self._poked else self.settings.digest_idle_poll_s
        for person_id in people:  # one transaction per person
            async with self.session_factory() as session, session.begin():
                _, current = await self.directory.current(session)
                carried = await queue_digest(session, person_id=person_id, directory=current,
                                             templates=self.templates, settings=self.settings)
            if carried:
                self.on_queued()
        return self.settings.digest_interval_s
