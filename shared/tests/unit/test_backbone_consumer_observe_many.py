"""`observe_many`: n observations of one value at once, the same samples as n calls of `observe`."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram

from backbone.consumer import observe_many


def _samples(h: Histogram) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for m in h.collect() for s in m.samples if not s.name.endswith("_created")}


@pytest.mark.parametrize("amount", [0.0, 0.0004, 0.003, 0.1, 7.5, 1e9])
@pytest.mark.parametrize("n", [1, 3, 500])
def test_the_same_samples_as_n_observes(amount: float, n: int) -> None:
    one, many = (Histogram(f"h_{name}", "x", ["group"], registry=CollectorRegistry()) for name in ("one", "many"))
    for _ in range(n):
        one.labels("g").observe(amount)
    observe_many(many.labels("g"), amount, n)
    expected = {(k[0].replace("h_one", "h_many"), k[1]): v for k, v in _samples(one).items()}
    got = _samples(many)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value)
