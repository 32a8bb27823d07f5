"""TMF622 cancelProductOrder and what a TMF622 PATCH / DELETE may do to an order, as pure rules.

A cancellation request (a task resource of its own) walks

    acknowledged -> in_progress -> done          (accepted: the order is cancelled, then its open EOMS
                                                  tickets are; done once none is left open)
    acknowledged -> rejected                     (too late, or nothing to cancel: with the reason)
    acknowledged -> information_required         (it lacks what it needs to be assessed, e.g. the
                                                  cancellationReason of an order in progress:
                                                  `crm.domain.information`)
    information_required -> in_progress | rejected   (completed by a new POST: assessed as above)

and the order's TMF622 state follows it: assessingCancellation while the request is acknowledged or
waits for information (its TMF622 task state is then acknowledged too), pendingCancellation while it is
in progress, cancelled when it is done. A rejected request leaves the order's state as it was.

`assess` decides from the order's lifecycle state (`crm.domain.lifecycle`): an order that has not
completed (draft, submitted, in_progress) may be cancelled; an opened order is completed (too late: a
cessation order undoes it), a rejected or cancelled one has nothing to cancel, a closed one is archived.

`settled` says when an accepted cancellation is done: a draft never reached the EOMS (done at once);
otherwise once the CRM knows at least one of the order's tickets and none of them is open any more
(the EOMS opens an order's tickets before it handles the cancellation that follows on the same
partition, so a submitted order whose tickets the CRM has not heard of yet waits for them).

PATCH (merge-patch): `description` may change until the order is closed; the items, channel and the
customer only while it is a draft; `state` never (it follows the lifecycle: cancel with cancelProductOrder).
An attribute given with the value it has is no change. DELETE: only a draft may be discarded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from backbone import errors
from crm.domain.lifecycle import ORDER, OrderAction, OrderState


class CancellationState(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    REJECTED = "rejected"
    INFORMATION_REQUIRED = "information_required"


#: cancellation state -> TMF622 TaskStateType
TASK_STATE = {CancellationState.ACKNOWLEDGED: "acknowledged", CancellationState.IN_PROGRESS: "inProgress",
              CancellationState.DONE: "done", CancellationState.REJECTED: "terminatedWithError",
              CancellationState.INFORMATION_REQUIRED: "acknowledged"}
#: cancellation state -> the order's TMF622 state while it is the order's latest request (rejected: none)
ORDER_STATE_OF_CANCELLATION = {CancellationState.ACKNOWLEDGED: "assessingCancellation",
                               CancellationState.IN_PROGRESS: "pendingCancellation",
                               CancellationState.DONE: "cancelled",
                               CancellationState.INFORMATION_REQUIRED: "assessingCancellation"}
#: the order states a cancellation may still stop
CANCELLABLE = frozenset(s for s in OrderState if ORDER.is_allowed(s, OrderAction.CANCEL))
#: EOMS ticket states (as the CRM records them) in which a ticket is no longer open
TICKET_DONE_STATES = frozenset({"resolved", "rejected", "cancelled", "closed"})

_TOO_LATE = {
    OrderState.OPENED: "too late: the order is completed (its services are open); a cessation order undoes it",
    OrderState.REJECTED: "the order was rejected: there is nothing left to cancel",
    OrderState.CANCELLED: "the order is cancelled already",
    OrderState.CLOSED: "the order is closed",
}


@dataclass(frozen=True)
class Assessment:
    accepted: bool
    reason: str | None = None


def assess(order_state: OrderState) -> Assessment:
    """Accept a cancellation of an order in `order_state`, or reject it with the reason."""
    if order_state in CANCELLABLE:
        return Assessment(True)
    return Assessment(False, _TOO_LATE.get(order_state, f"an order in state {order_state.value} cannot be cancelled"))


def settled(order_status_before: OrderState, *, known_tickets: int, open_tickets: int) -> bool:
    """True when an accepted cancellation is done (see the module's docstring)."""
    if order_status_before is OrderState.DRAFT:
        return True
    return known_tickets > 0 and open_tickets == 0


def cancellation_transition(state: CancellationState, to: CancellationState) -> CancellationState:
    """The legal paths: acknowledged -> in_progress | rejected | information_required, information_required ->
    in_progress | rejected, in_progress -> done."""
    legal = {(CancellationState.ACKNOWLEDGED, CancellationState.IN_PROGRESS),
             (CancellationState.ACKNOWLEDGED, CancellationState.REJECTED),
             (CancellationState.ACKNOWLEDGED, CancellationState.INFORMATION_REQUIRED),
             (CancellationState.INFORMATION_REQUIRED, CancellationState.IN_PROGRESS),
             (CancellationState.INFORMATION_REQUIRED, CancellationState.REJECTED),
             (CancellationState.IN_PROGRESS, CancellationState.DONE)}
    if (state, to) not in legal:
        raise errors.IllegalTransition(f"a cancellation in state {state.value} cannot become {to.value}",
                                       entity="cancellation", from_state=state.value, action=to.value, field="state")
    return to


# ------------------------------------------------------------------------------------------ PATCH / DELETE

#: TMF622 attributes a PATCH may change, and the order states in which it may.
_EDITABLE_UNTIL_CLOSED = frozenset(s for s in OrderState if s is not OrderState.CLOSED)
PATCHABLE: dict[str, frozenset[OrderState]] = {
    "description": _EDITABLE_UNTIL_CLOSED,
    "productOrderItem": frozenset({OrderState.DRAFT}),
    "channel": frozenset({OrderState.DRAFT}),
    "relatedParty": frozenset({OrderState.DRAFT}),
    "state": frozenset(),  # the lifecycle moves it (cancel with cancelProductOrder), never a PATCH
}


class PatchNotAllowed(errors.Conflict):
    """The order's state forbids changing this attribute (409 naming it)."""

    code = "patch_not_allowed"


class DeleteNotAllowed(errors.Conflict):
    """Only a draft order may be deleted (409 naming `state`)."""

    code = "delete_not_allowed"


def check_patch(order_state: OrderState, attributes: set[str]) -> None:
    """Raise PatchNotAllowed (409) naming the first attribute the state does not let change."""
    for name in sorted(attributes):
        allowed = PATCHABLE.get(name)
        if allowed is None:
            raise errors.Invalid(f"{name} cannot be changed (changeable: {', '.join(sorted(PATCHABLE))})", field=name)
        if order_state not in allowed:
            if not allowed:
                raise PatchNotAllowed(f"{name} follows the order's lifecycle (cancel it with cancelProductOrder); "
                                      f"the order is {order_state.value}", field=name, from_state=order_state.value)
            when = "until the order is closed" if allowed == _EDITABLE_UNTIL_CLOSED else "while the order is a draft"
            raise PatchNotAllowed(f"{name} may change only {when}; the order is {order_state.value}", field=name,
                                  from_state=order_state.value)


def check_delete(order_state: OrderState) -> None:
    if order_state is not OrderState.DRAFT:
        raise DeleteNotAllowed(f"only a draft order may be deleted; the order is {order_state.value} "
                               "(cancel it with cancelProductOrder)", field="state", from_state=order_state.value)


# ------------------------------------------------------------------------------------------ TMF622 state

#: order status -> TMF622 ProductOrderStateType (closed: see `tmf_order_state`)
ORDER_TMF_STATE = {"draft": "acknowledged", "submitted": "acknowledged", "in_progress": "inProgress",
                   "opened": "completed", "rejected": "rejected", "cancelled": "cancelled"}


#: the TMF622 state of a draft held back from fulfilment until the information it lacks is given
PENDING = "pending"
#: cancellation states that show in the order's TMF622 state
_OPEN_CANCELLATION = frozenset({CancellationState.ACKNOWLEDGED, CancellationState.INFORMATION_REQUIRED,
                                CancellationState.IN_PROGRESS})


def tmf_order_state(status: str, closed_from: str | None = None,
                    cancellation: CancellationState | None = None, *, information_required: bool = False) -> str:
    """The order's TMF622 state: its latest cancellation request's while one is acknowledged, waiting for
    information or in progress; `pending` for a draft held back for information (`crm.domain.information`);
    else its status's (a closed order shows the state it closed from)."""
    if cancellation is not None and cancellation in _OPEN_CANCELLATION:
        return ORDER_STATE_OF_CANCELLATION[cancellation]
    if information_required and status == OrderState.DRAFT.value:
        return PENDING
    if status == OrderState.CLOSED.value:
        status = closed_from or OrderState.OPENED.value
    return ORDER_TMF_STATE.get(status, "acknowledged")
