"""Helpers shared by the EOMS domain unit tests."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2024, 5, 21, 8, 16, 43, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def minimal_workflow(**overrides: Any) -> dict[str, Any]:
    """A small valid workflow as raw data (deep-copied so tests can mutate it)."""
    wf: dict[str, Any] = {
        "id": "vpmn.opening",
        "version": 1,
        "business_type": "vpmn.opening",
        "tickets": [
            {
                "kind": "resource_confirmation",
                "start_node": "check",
                "nodes": [
                    {"name": "check", "role": "network_resource", "outcomes": {"ok": "review", "no": "$rejected"}},
                    {"name": "review", "role": "supervisor", "outcomes": {"approved": "$resolved", "redo": "check"}},
                ],
            },
            {
                "kind": "service_opening",
                "depends_on": ["resource_confirmation"],
                "start_node": "produce",
                "nodes": [
                    {"name": "produce", "role": "data_production", "outcomes": {"done": "test"}},
                    {"name": "test", "role": "noc_tester", "outcomes": {"passed": "$resolved", "failed": "produce"}},
                ],
            },
        ],
    }
    wf.update(overrides)
    return copy.deepcopy(wf)
