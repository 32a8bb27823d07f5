"""The TMF622 cancellation, PATCH and DELETE rules (crm.domain.cancellation), every state enumerated."""

from __future__ import annotations

import itertools

import pytest

from backbone import errors
from crm.domain.cancellation import (
    CANCELLABLE,
    PATCHABLE,
    CancellationState,
    DeleteNotAllowed,
    PatchNotAllowed,
    assess,
    cancellation_transition,
    check_delete,
    check_patch,
    settled,
    tmf_order_state,
)
from crm.domain.lifecycle import ORDER, OrderAction, OrderState


@pytest.mark.parametrize("state", list(OrderState))
def test_assess_accepts_exactly_what_the_order_lifecycle_may_cancel(state: OrderState) -> None:
    verdict = assess(state)
    assert verdict.accepted is ORDER.is_allowed(state, OrderAction.CANCEL)
    assert (verdict.reason is None) is verdict.accepted
    if state is OrderState.OPENED:
        assert verdict.reason is not None and verdict.reason.startswith("too late")


def test_cancellable_states() -> None:
    assert {OrderState.DRAFT, OrderState.SUBMITTED, OrderState.IN_PROGRESS} == CANCELLABLE


@pytest.mark.parametrize(("before", "known", "open_", "done"), [
    (OrderState.DRAFT, 0, 0, True),  # never reached the EOMS
    (OrderState.SUBMITTED, 0, 0, False),  # its tickets are still to come
    (OrderState.SUBMITTED, 2, 1, False),
    (OrderState.SUBMITTED, 2, 0, True),
    (OrderState.IN_PROGRESS, 1, 1, False),
    (OrderState.IN_PROGRESS, 3, 0, True),
])
def test_settled(before: OrderState, known: int, open_: int, done: bool) -> None:
    assert settled(before, known_tickets=known, open_tickets=open_) is done


def test_cancellation_transitions_every_pair() -> None:
    legal = {(CancellationState.ACKNOWLEDGED, CancellationState.IN_PROGRESS),
             (CancellationState.ACKNOWLEDGED, CancellationState.REJECTED),
             (CancellationState.ACKNOWLEDGED, CancellationState.INFORMATION_REQUIRED),
             (CancellationState.INFORMATION_REQUIRED, CancellationState.IN_PROGRESS),
             (CancellationState.INFORMATION_REQUIRED, CancellationState.REJECTED),
             (CancellationState.IN_PROGRESS, CancellationState.DONE)}
    for a, b in itertools.product(CancellationState, repeat=2):
        if (a, b) in legal:
            assert cancellation_transition(a, b) is b
        else:
            with pytest.raises(errors.IllegalTransition):
                cancellation_transition(a, b)


@pytest.mark.parametrize("state", list(OrderState))
def test_patch_rules_every_state_and_attribute(state: OrderState) -> None:
    for name, allowed in PATCHABLE.items():
        if state in allowed:
            check_patch(state, {name})
        else:
            with pytest.raises(PatchNotAllowed) as exc:
                check_patch(state, {name})
            assert exc.value.field == name
    with pytest.raises(errors.Invalid):
        check_patch(state, {"priority"})


def test_description_until_closed_items_on_a_draft_state_never() -> None:
    check_patch(OrderState.OPENED, {"description"})
    with pytest.raises(PatchNotAllowed):
        check_patch(OrderState.CLOSED, {"description"})
    check_patch(OrderState.DRAFT, {"productOrderItem", "channel", "relatedParty"})
    with pytest.raises(PatchNotAllowed):
        check_patch(OrderState.SUBMITTED, {"productOrderItem"})
    with pytest.raises(PatchNotAllowed):
        check_patch(OrderState.DRAFT, {"state"})


@pytest.mark.parametrize("state", list(OrderState))
def test_only_a_draft_may_be_deleted(state: OrderState) -> None:
    if state is OrderState.DRAFT:
        check_delete(state)
    else:
        with pytest.raises(DeleteNotAllowed):
            check_delete(state)


def test_tmf_order_state() -> None:
    assert tmf_order_state("draft") == "acknowledged"
    assert tmf_order_state("in_progress") == "inProgress"
    assert tmf_order_state("closed", "rejected") == "rejected"
    assert tmf_order_state("closed") == "completed"
    assert tmf_order_state("submitted", None, CancellationState.ACKNOWLEDGED) == "assessingCancellation"
    assert tmf_order_state("cancelled", None, CancellationState.IN_PROGRESS) == "pendingCancellation"
    assert tmf_order_state("cancelled", None, CancellationState.DONE) == "cancelled"
    assert tmf_order_state("opened", None, CancellationState.REJECTED) == "completed"
