"""`backbone.runtime.settle_heap`: what a service built at start leaves the cyclic collector's way."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from backbone.runtime import GC_YOUNG_THRESHOLD, settle_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_settle_heap_freezes_what_exists_and_collects_the_young_less_often() -> None:
    built_at_start = [{"part": i} for i in range(1000)]
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    _, middle, old = gc.get_threshold()

    settle_heap()

    assert gc.get_freeze_count() >= len(built_at_start)  # never scanned again
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, middle, old)
