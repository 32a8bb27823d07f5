"""backbone's consumer runner, with a partition's run of events applied set-based.

backbone's `ConsumerRunner._apply_batch` claims and applies a run of one partition's events in one
transaction, but event by event: each costs its own inbox insert and handler statements, which
caps a busy partition at a few hundred events/s (docs/sla.md, Performance). Here the run is claimed
with one multi-row inbox insert and handed whole to a batch applier (`consumers.make_batch_applier`)
in the same transaction. The guarantee is the same (every effect commits with its inbox row, the
offset is committed afterwards); on any failure the transaction is rolled back and backbone applies
the run event by event, with its retries and dead-lettering, exactly as before.
"""

from __future__ import annotations

import logging
import time

from aiokafka import ConsumerRecord
from sqlalchemy.dialects.postgresql import insert

from backbone import metrics
from backbone.consumer import ConsumerRunner
from backbone.envelope import Envelope, MalformedEvent, parse_envelope
from sla.consumers import BatchApplier

log = logging.getLogger("sla.batch_consumer")


class SetBasedConsumerRunner(ConsumerRunner):
    apply_run: BatchApplier

    @classmethod
    def from_runner(cls, runner: ConsumerRunner, apply_run: BatchApplier) -> SetBasedConsumerRunner:
        """The runner `ServiceRuntime.add_consumer` built (same wiring), with set-based runs."""
        new = cls.__new__(cls)
        new.__dict__.update(runner.__dict__)
        new.apply_run = apply_run
        return new

    async def _apply_batch(self, chunk: list[ConsumerRecord]) -> list[ConsumerRecord]:
        envelopes: list[Envelope] = []
        for msg in chunk:
            try:
                envelopes.append(parse_envelope(msg.value))
            except MalformedEvent:
                return chunk  # backbone dead-letters it and applies the others one by one
        known = [e for e in envelopes if e.type in self.handlers]
        started = time.perf_counter()
        try:
            async with self.session_factory() as session, session.begin():
                claimed: set[object] = set()
                if known:
                    rows = [{"event_id": e.id, "consumer": self.group_id, "event_type": e.type} for e in known]
                    claimed = set((await session.execute(  # executemany form: compiled once, cached
                        insert(self.inbox).on_conflict_do_nothing().returning(self.inbox.c.event_id), rows
                    )).scalars())
                fresh: list[Envelope] = []
                for e in known:
                    if e.id in claimed:  # a redelivery inside the run (same id twice) is applied once
                        claimed.remove(e.id)
                        fresh.append(e)
                await self.apply_run(session, fresh)
        except Exception as exc:  # noqa: BLE001 - applied event by event right after
            log.info("run of %d fell back to one-by-one: %r", len(chunk), exc)
            return chunk
        applied = {id(e) for e in fresh}
        per_event = (time.perf_counter() - started) / max(1, len(known))
        for e in envelopes:
            if e.type not in self.handlers:
                metrics.EVENTS_SKIPPED.labels(self.group_id, e.type).inc()
            elif id(e) in applied:
                metrics.EVENTS_CONSUMED.labels(self.group_id, e.type, "applied").inc()
                metrics.EVENT_HANDLE_SECONDS.labels(self.group_id, e.type).observe(per_event)
            else:
                metrics.EVENTS_CONSUMED.labels(self.group_id, e.type, "duplicate").inc()
        return []
