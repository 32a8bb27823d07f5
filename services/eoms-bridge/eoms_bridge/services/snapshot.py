"""Domain Ticket <-> JSONB snapshot. The definition is not stored: it comes back from the catalog
by (workflow_id, workflow_version), so a running ticket keeps the version it started on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backbone.vocabulary import NodeRole, TicketKind
from eoms_bridge.domain.ticket import NodeVisit, Ticket, TicketState
from eoms_bridge.domain.workflow import WorkflowDefinition

SNAPSHOT_VERSION = 1


def _dt(v: datetime | None) -> str | None:
    return v.isoformat() if v is not None else None


def _pdt(v: str | None) -> datetime | None:
    return datetime.fromisoformat(v) if v is not None else None


def _visit_out(v: NodeVisit) -> dict[str, Any]:
    return {
        "node": v.node, "role": v.role.value, "entered_at": _dt(v.entered_at), "entered_via": v.entered_via,
        "assignee": v.assignee, "accepted_at": _dt(v.accepted_at), "left_at": _dt(v.left_at),
        "left_by": v.left_by, "outcome": v.outcome, "next_node": v.next_node, "data": v.data,
        "reason": v.reason, "reassignments": [[_dt(w), by, to] for (w, by, to) in v.reassignments],
        "partner": v.partner, "unit": v.unit,
    }


def _visit_in(d: dict[str, Any]) -> NodeVisit:
    entered = _pdt(d["entered_at"])
    assert entered is not None
    return NodeVisit(
        node=d["node"], role=NodeRole(d["role"]), entered_at=entered, entered_via=d["entered_via"],
        assignee=d.get("assignee"), accepted_at=_pdt(d.get("accepted_at")), left_at=_pdt(d.get("left_at")),
        left_by=d.get("left_by"), outcome=d.get("outcome"), next_node=d.get("next_node"),
        data=dict(d.get("data") or {}), reason=d.get("reason"),
        reassignments=[(datetime.fromisoformat(w), by, to) for (w, by, to) in d.get("reassignments", [])],
        partner=d.get("partner"), unit=d.get("unit"),
    )


def to_snapshot(t: Ticket) -> dict[str, Any]:
    return {
        "v": SNAPSHOT_VERSION,
        "id": t.id, "subject_id": t.subject_id, "workflow_id": t.workflow_id,
        "workflow_version": t.workflow_version, "business_type": t.business_type, "kind": t.kind.value,
        "state": t.state.value, "created_at": _dt(t.created_at), "updated_at": _dt(t.updated_at),
        "customer_tier": t.customer_tier, "current_node": t.current_node,
        "history": [_visit_out(v) for v in t.history], "trail": list(t.trail),
        "state_before_hold": t.state_before_hold.value if t.state_before_hold else None,
        "resolution": t.resolution, "reason": t.reason,
    }


def from_snapshot(d: dict[str, Any], workflow: WorkflowDefinition) -> Ticket:
    created, updated = _pdt(d["created_at"]), _pdt(d["updated_at"])
    assert created is not None and updated is not None
    kind = TicketKind(d["kind"])
    return Ticket(
        id=d["id"], subject_id=d["subject_id"], workflow_id=d["workflow_id"],
        workflow_version=int(d["workflow_version"]), business_type=d["business_type"], kind=kind,
        definition=workflow.ticket(kind), state=TicketState(d["state"]), created_at=created, updated_at=updated,
        customer_tier=d.get("customer_tier"), current_node=d.get("current_node"),
        history=[_visit_in(v) for v in d.get("history", [])], trail=list(d.get("trail", [])),
        state_before_hold=TicketState(d["state_before_hold"]) if d.get("state_before_hold") else None,
        resolution=d.get("resolution"), reason=d.get("reason"),
    )
