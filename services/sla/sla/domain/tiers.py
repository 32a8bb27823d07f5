"""Which customer tier a node's timer runs under (pure).

The EOMS bridge copies the customer's tier into a ticket when it opens it (from the order or the
complaint), and every event of the ticket carries that copy. The CRM re-grades customers later
(`crm.customer.tier_changed`, which the SLA records). A timer started when a node is entered uses the
customer's tier *at the moment of the entry*: the tier of the latest re-grading at or before
`entered_at`, or the ticket's copy when the customer was not re-graded before then. Running timers
keep the tier (and the rule) they started with.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime


def tier_at(changes: Sequence[tuple[datetime, str]], at: datetime, ticket_tier: str) -> str:
    """The customer's tier at ``at``: ``changes`` are (changed_at, new_tier), oldest first."""
    i = bisect_right([c for c, _ in changes], at)
    return changes[i - 1][1] if i else ticket_tier


__all__ = ["tier_at"]
