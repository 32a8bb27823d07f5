"""TMF621 Trouble Ticket words mapped onto the EOMS ticket: status model, severity → priority.

Pure (no I/O). Used by the TMF621 face of the bridge (`eoms_bridge/api/tmf.py`) and the use cases of
network-originated tickets (`eoms_bridge/services/network_tickets.py`).

* **Status.** TMF621's `TroubleTicketStatusType` names the bridge's ticket states one to one
  (`in_progress` is `inProgress`). A PATCH asking for another status is *not* a state write: it is
  turned into the node actions the ticket's workflow allows from where it stands (`status_plan`),
  which the domain `Ticket` then performs with its own checks (node role, assignee, authority). A
  status the workflow cannot reach from here is a `StatusNotAllowedError` (409) saying why.
* **Severity → priority.** A documented table (`SEVERITIES`): the TMF severity (X.733 alarm
  severities and the CRM's complaint severities, case-insensitive) gives the TMF `priority` and,
  for a ticket that names no customer, the tier its SLA deadlines are taken at.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from backbone.errors import Invalid
from backbone.tmf import omit_absent
from backbone.vocabulary import Tier
from eoms_bridge.domain.errors import IllegalTransitionError
from eoms_bridge.domain.ticket import Ticket, TicketAction, TicketState
from eoms_bridge.domain.workflow import NodeAction, Terminal

__all__ = [
    "SEVERITIES",
    "STATE_OF_STATUS",
    "STATUS_OF_STATE",
    "SeverityLevel",
    "StatusChange",
    "StatusNotAllowedError",
    "Step",
    "TmfStatus",
    "normalize_severity",
    "priority_of",
    "status_plan",
    "tier_of_severity",
    "trouble_ticket",
]


class TmfStatus(StrEnum):
    """TMF621 v4 `TroubleTicketStatusType`."""

    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "inProgress"
    PENDING = "pending"
    HELD = "held"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


S = TicketState
STATUS_OF_STATE: Final[Mapping[TicketState, TmfStatus]] = {
    S.ACKNOWLEDGED: TmfStatus.ACKNOWLEDGED, S.IN_PROGRESS: TmfStatus.IN_PROGRESS, S.PENDING: TmfStatus.PENDING,
    S.HELD: TmfStatus.HELD, S.RESOLVED: TmfStatus.RESOLVED, S.CLOSED: TmfStatus.CLOSED,
    S.REJECTED: TmfStatus.REJECTED, S.CANCELLED: TmfStatus.CANCELLED,
}
STATE_OF_STATUS: Final[Mapping[TmfStatus, TicketState]] = {v: k for k, v in STATUS_OF_STATE.items()}


# ------------------------------------------------------------------ severity → priority


@dataclass(frozen=True)
class SeverityLevel:
    priority: str  # TMF621 `priority` (the spec's examples: Critical, High, Medium, Low)
    tier: Tier  # the SLA tier of a ticket that names no customer


_CRITICAL = SeverityLevel("critical", Tier.A)
_HIGH = SeverityLevel("high", Tier.A)
_MEDIUM = SeverityLevel("medium", Tier.B)
_LOW = SeverityLevel("low", Tier.C)

#: severity (lower case) → priority and the SLA tier without a customer. X.733 alarm severities
#: (critical, major, minor, warning, indeterminate), the CRM's complaint severities (critical, high,
#: medium, low) and the tier-derived ones of order tickets (major, moderate, minor).
SEVERITIES: Final[Mapping[str, SeverityLevel]] = {
    "critical": _CRITICAL,
    "major": _HIGH,
    "high": _HIGH,
    "moderate": _MEDIUM,
    "medium": _MEDIUM,
    "minor": _LOW,
    "low": _LOW,
    "warning": _LOW,
    "indeterminate": _LOW,
}


def normalize_severity(value: str, *, field: str = "severity") -> str:
    """The severity as stored (lower case); an unknown one is `Invalid` naming `field`."""
    key = value.strip().lower()
    if key not in SEVERITIES:
        raise Invalid(f"unknown severity {value!r}: one of {', '.join(SEVERITIES)}", field=field)
    return key


def priority_of(severity: str | None) -> str | None:
    """TMF `priority` of a stored severity (None when the ticket has none or one outside the table)."""
    level = SEVERITIES.get((severity or "").lower())
    return level.priority if level else None


def tier_of_severity(severity: str) -> Tier:
    return SEVERITIES[normalize_severity(severity)].tier


# ------------------------------------------------------------------ status model


class StatusNotAllowedError(IllegalTransitionError):
    """The workflow does not reach the asked status from where the ticket stands (409, field `status`)."""

    def __init__(self, message: str, *, from_status: TmfStatus, to_status: TmfStatus) -> None:
        super().__init__(message, from_state=from_status.value, field="status", to_state=to_status.value)


@dataclass(frozen=True)
class Step:
    """One domain action of a status change; `outcome` for `complete`."""

    action: TicketAction
    outcome: str | None = None


_NODE_ACTIONS: Final[Mapping[TicketAction, NodeAction]] = {
    TicketAction.ACCEPT: NodeAction.ACCEPT, TicketAction.COMPLETE: NodeAction.COMPLETE,
    TicketAction.SUSPEND: NodeAction.SUSPEND, TicketAction.RESUME: NodeAction.RESUME,
}

_OPEN = frozenset({S.ACKNOWLEDGED, S.IN_PROGRESS, S.PENDING, S.HELD})


def _route(state: TicketState, before_hold: TicketState | None, target: TicketState) -> list[TicketAction] | None:
    """The ticket actions leading from `state` to `target` (None: the status model has no way there).

    `complete` stands for "complete the current node with an outcome leading to the target terminal".
    """
    if state is target:
        return []
    if state is S.HELD:
        back = before_hold or S.ACKNOWLEDGED
        if target is S.CANCELLED:
            return [TicketAction.CANCEL]
        rest = _route(back, None, target)
        return None if rest is None else [TicketAction.RELEASE, *rest]
    match target:
        case S.IN_PROGRESS:
            return {S.ACKNOWLEDGED: [TicketAction.ACCEPT], S.PENDING: [TicketAction.RESUME]}.get(state)
        case S.PENDING:
            return {S.ACKNOWLEDGED: [TicketAction.ACCEPT, TicketAction.SUSPEND],
                    S.IN_PROGRESS: [TicketAction.SUSPEND]}.get(state)
        case S.HELD:
            return [TicketAction.HOLD] if state in _OPEN else None
        case S.RESOLVED | S.REJECTED:
            return {S.ACKNOWLEDGED: [TicketAction.ACCEPT, TicketAction.COMPLETE],
                    S.IN_PROGRESS: [TicketAction.COMPLETE],
                    S.PENDING: [TicketAction.RESUME, TicketAction.COMPLETE]}.get(state)
        case S.CLOSED:
            return [TicketAction.CLOSE] if state is S.RESOLVED else None
        case S.CANCELLED:
            return [TicketAction.CANCEL] if state in _OPEN else None
        case S.ACKNOWLEDGED:
            return None  # only back from held (above)
    return None  # pragma: no cover


def status_plan(ticket: Ticket, target: TmfStatus, *, outcome: str | None = None) -> list[Step]:
    """The domain actions that take `ticket` to the TMF status `target`, as its workflow allows them.

    - the same status: nothing to do;
    - `inProgress` = accept (from acknowledged) or resume (from pending); `pending` = suspend;
      `held` = hold; from `held`, release first (back to the state before the hold);
    - `resolved` / `rejected` = complete the current node with the outcome that leads to `$resolved` /
      `$rejected` (`outcome` picks one when the node has several; after accept / resume if needed);
    - `closed` = close (from resolved); `cancelled` = cancel (any open state).

    Raises `StatusNotAllowedError` (409, field `status`) when the status model has no way there, the
    current node does not allow a needed action, or its outcomes do not lead to the asked terminal.
    Who may perform each step (node role, assignee, authority) the `Ticket` checks as it runs them.
    """
    here = STATUS_OF_STATE[ticket.state]
    to_state = STATE_OF_STATUS[target]

    def refuse(why: str) -> StatusNotAllowedError:
        return StatusNotAllowedError(f"ticket {ticket.id} cannot go from {here.value} to {target.value}: {why}",
                                     from_status=here, to_status=target)

    route = _route(ticket.state, ticket.state_before_hold, to_state)
    if route is None:
        return_states = sorted(s.value for s in STATUS_OF_STATE.values() if _route(
            ticket.state, ticket.state_before_hold, STATE_OF_STATUS[s]) not in (None, []))
        raise refuse("the TMF621 status model as this EOMS runs it has no such step"
                     + (f" (from here: {', '.join(return_states)})" if return_states else " (a final status)"))
    if ticket.assignee is None and TicketAction.ACCEPT not in route:
        # A node entered by the previous node's outcome is nobody's yet: whoever completes or suspends it
        # claims it first (the ticket stays in progress).
        at = next((i for i, a in enumerate(route) if a in (TicketAction.COMPLETE, TicketAction.SUSPEND)), None)
        if at is not None:
            route = [*route[:at], TicketAction.ACCEPT, *route[at:]]
    node = ticket.node
    steps: list[Step] = []
    for action in route:
        needed = _NODE_ACTIONS.get(action)
        if needed is not None and (node is None or not node.allows(needed)):
            where = f"node {node.name!r}" if node is not None else "no open node"
            raise refuse(f"{where} of workflow {ticket.workflow_id} does not allow {needed.value}")
        if action is TicketAction.COMPLETE:
            assert node is not None  # open states always have a node; checked above
            terminal = Terminal.RESOLVED if to_state is S.RESOLVED else Terminal.REJECTED
            leading = [o for o, t in node.outcomes.items() if t == terminal.value]
            if outcome is not None:
                if outcome not in leading:
                    raise refuse(f"outcome {outcome!r} of node {node.name!r} does not lead to {terminal.value}"
                                 f" (outcomes leading there: {', '.join(leading) or 'none'})")
                leading = [outcome]
            if not leading:
                ends = sorted({t for t in node.outcomes.values()})
                raise refuse(f"node {node.name!r} of workflow {ticket.workflow_id} has no outcome leading to "
                             f"{terminal.value} (its outcomes lead to {', '.join(ends)}); the workflow "
                             f"{'resolves' if terminal is Terminal.RESOLVED else 'rejects'} the ticket from "
                             f"{_nodes_to(ticket, terminal) or 'no node'}")
            if len(leading) > 1:
                raise refuse(f"node {node.name!r} has several outcomes leading to {terminal.value} "
                             f"({', '.join(leading)}): say which one")
            steps.append(Step(action, leading[0]))
            continue
        steps.append(Step(action))
    return steps


def _nodes_to(ticket: Ticket, terminal: Terminal) -> str:
    return ", ".join(n.name for n in ticket.definition.nodes if terminal.value in n.outcomes.values())


# ------------------------------------------------------------------ the resource


@dataclass(frozen=True)
class StatusChange:
    """One entry of the ticket's status history (from its audit trail), in the bridge's state words."""

    state: str
    at: datetime
    reason: str | None = None


_ORIGIN_TYPES: Final[Mapping[str, str]] = {"order": "ProductOrder", "complaint": "Complaint"}
#: What the TMF resource carries of the workflow as characteristics (v5 `troubleTicketCharacteristic`).
_FACTS: Final = ("business_type", "customer_tier", "current_node", "current_role", "assignee", "workflow_id",
                 "workflow_version")


def _status(state: str) -> str:
    return STATUS_OF_STATE[TicketState(state)].value if state in TicketState._value2member_map_ else state


def trouble_ticket(row: Mapping[str, Any], *, href: str, changes: Sequence[StatusChange] = ()) -> dict[str, Any]:
    """A ticket row (`eoms.tickets`) as the TMF621 v4 `TroubleTicket` resource, absent members omitted.

    - `severity` as stored, `priority` from it (`SEVERITIES`), `status` and `statusChange` in TMF words;
    - `relatedEntity`: what the ticket is about: the CRM order or complaint, or, for a network ticket, the
      entities its reporter named (product, resource, alarm ...); the customer too, as before;
    - `relatedParty`: the customer (role customer) and a network ticket's reporter (role reporter);
    - `externalId`, `note`, `requestedResolutionDate` of a network ticket; `resolutionDate` once resolved;
    - `troubleTicketCharacteristic`: the workflow facts (business type, tier, node, role, assignee, ...).
    """
    data: Mapping[str, Any] = row.get("data") or {}
    network = row["origin"] == "network"
    entities: list[dict[str, Any]] = []
    if network:
        entities += [dict(e) for e in data.get("related_entity", [])]
    else:
        entities.append({"id": row["origin_id"], "role": row["origin"],
                         "@referredType": _ORIGIN_TYPES.get(row["origin"], row["origin"])})
    parties: list[dict[str, Any]] = []
    if row.get("customer_id"):
        customer = {"id": row["customer_id"], "role": "customer", "name": row.get("customer_name") or None,
                    "@referredType": "Organization"}
        entities.append(customer)
        parties.append(dict(customer))
    if network and data.get("reported_by"):
        parties.append({"id": data["reported_by"], "role": "reporter", "@referredType": "PartyRole"})
    last = changes[-1] if changes else None
    resolved = next((c.at for c in reversed(changes) if c.state == TicketState.RESOLVED.value), None)
    notes = [dict(n) for n in data.get("notes", [])]
    resource: dict[str, Any] = {
        "id": row["id"], "href": href,
        "name": data.get("name") or f"{row['kind']} {row['business_type']}",
        "description": row.get("description"),
        "severity": row.get("severity"),
        "priority": priority_of(row.get("severity")),
        "status": _status(row["state"]),
        "ticketType": row["kind"],
        "externalId": data.get("external_id") if network else None,
        "creationDate": row["created_at"],
        "lastUpdate": row["updated_at"],
        "requestedResolutionDate": data.get("requested_resolution_date"),
        "resolutionDate": resolved,
        "statusChangeDate": last.at if last else None,
        "statusChangeReason": last.reason if last else None,
        "relatedEntity": entities,
        "relatedParty": parties or None,
        "note": notes or None,
        "statusChange": [{"status": _status(c.state), "changeDate": c.at, "changeReason": c.reason} for c in changes],
        "troubleTicketCharacteristic": [
            {"name": k, "value": row[k], "valueType": "integer" if isinstance(row[k], int) else "string"}
            for k in _FACTS if row.get(k) is not None],
        "@type": "TroubleTicket",
    }
    out: dict[str, Any] = omit_absent(resource)
    return out
