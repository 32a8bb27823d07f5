"""How many records one poll of `ConsumerRunner` asks for: a run for every assigned partition (so a pass
applies several partitions side by side), bounded by POLL_RECORDS_MAX."""

from __future__ import annotations

from aiokafka import TopicPartition

from backbone.consumer import POLL_RECORDS_MAX, ConsumerRunner


class _Assigned:
    def __init__(self, partitions: int) -> None:
        self._assignment = {TopicPartition("t", p) for p in range(partitions)}

    def assignment(self) -> set[TopicPartition]:
        return self._assignment


def _runner(batch_size: int) -> ConsumerRunner:
    return ConsumerRunner(
        name="g", bootstrap="unused:9092", topics=["t"], group_id="g", handlers={},
        session_factory=None,  # type: ignore[arg-type]
        inbox=None,  # type: ignore[arg-type]
        producer=None,  # type: ignore[arg-type]
        batch_size=batch_size,
    )


def test_a_poll_asks_for_a_run_per_assigned_partition_within_the_bound() -> None:
    runner = _runner(batch_size=100)
    assert runner._poll_records(_Assigned(0)) == 500  # type: ignore[arg-type]  # not assigned yet: one run
    assert runner._poll_records(_Assigned(1)) == 500  # type: ignore[arg-type]
    assert runner._poll_records(_Assigned(4)) == 2000  # type: ignore[arg-type]
    assert runner._poll_records(_Assigned(64)) == POLL_RECORDS_MAX  # type: ignore[arg-type]
    assert _runner(batch_size=1000)._poll_records(_Assigned(2)) == 2000  # type: ignore[arg-type]
