"""What the statistics service consumes: crm.orders, crm.complaints, crm.opportunities, eoms.tickets and
sla.alerts, each event recorded as insert-only facts of the read model (`stats.services.facts`).

The ConsumerRunner claims the inbox row first (a redelivery is skipped); the facts are keyed so that even
a second consumer group, or a rebuild racing the live consumer, records nothing twice.
"""

from __future__ import annotations

from backbone.consumer import Handler
from stats.services.facts import RECORDERS

TOPICS_NOTE = "crm.orders, crm.complaints, crm.opportunities, eoms.tickets, sla.alerts"


def make_handlers() -> dict[str, Handler]:
    return dict(RECORDERS)
