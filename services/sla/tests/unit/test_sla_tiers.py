"""Which tier a node's timer runs under: the customer's at the node's entry (sla.domain.tiers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sla.domain.tiers import tier_at

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (T0 - timedelta(minutes=1), "C"),  # before any re-grading: the ticket's copy
        (T0, "B"),  # at the re-grading: the new tier
        (T0 + timedelta(hours=1), "B"),
        (T0 + timedelta(days=1), "A"),  # after the second one
    ],
)
def test_a_node_runs_under_the_customers_tier_at_its_entry(at: datetime, expected: str) -> None:
    changes = [(T0, "B"), (T0 + timedelta(days=1), "A")]
    assert tier_at(changes, at, ticket_tier="C") == expected
    assert tier_at([], at, ticket_tier="C") == "C"
