from __future__ import annotations

import itertools
from enum import StrEnum
from typing import Any

import pytest

from backbone.vocabulary import OpportunityState
from backbone.vocabulary import TokenRole as Role
from crm.domain.lifecycle import (
    COMPLAINT,
    COMPLAINT_TRANSITIONS,
    OPPORTUNITY,
    ORDER,
    ORDER_TRANSITIONS,
    ComplaintAction,
    ComplaintState,
    IllegalTransition,
    InvalidSatisfaction,
    Lifecycle,
    OpportunityAction,
    OrderAction,
    OrderCreationNotAllowed,
    OrderState,
    check_order_creation,
    transition,
)

LIFECYCLES: list[Lifecycle[Any, Any]] = [ORDER, COMPLAINT, OPPORTUNITY]
_transition: Any = transition  # untyped view, to feed it every (state, action) pair


def _pairs(legal: bool) -> list[Any]:
    out = []
    for lc in LIFECYCLES:
        for state, action in itertools.product(lc.states, lc.actions):
            if ((state, action) in lc.transitions) is legal:
                out.append(pytest.param(lc, state, action, id=f"{lc.entity}-{state}-{action}"))
    return out


def _kwargs(action: StrEnum) -> dict[str, Any]:
    return {"satisfaction": 4} if action is ComplaintAction.REVISIT else {}


@pytest.mark.parametrize(("lc", "state", "action"), _pairs(legal=True))
def test_every_legal_transition(lc: Lifecycle[Any, Any], state: StrEnum, action: StrEnum) -> None:
    expected = lc.transitions[(state, action)]
    assert _transition(state, action, **_kwargs(action)) is expected
    assert lc.transition(state, action) is expected
    assert lc.is_allowed(state, action)
    assert action in lc.allowed_actions(state)


@pytest.mark.parametrize(("lc", "state", "action"), _pairs(legal=False))
def test_every_illegal_transition(lc: Lifecycle[Any, Any], state: StrEnum, action: StrEnum) -> None:
    with pytest.raises(IllegalTransition) as info:
        _transition(state, action, **_kwargs(action))
    assert info.value.from_state == state.value
    assert info.value.action == action.value
    assert info.value.entity == lc.entity
    assert info.value.code == "illegal_transition"
    assert not lc.is_allowed(state, action)


def test_expected_table_sizes() -> None:
    assert len(ORDER_TRANSITIONS) == 11
    assert len(COMPLAINT_TRANSITIONS) == 5
    assert len(OPPORTUNITY.transitions) == 2


def test_order_happy_path_and_terminal_state() -> None:
    state = ORDER.initial
    for action in (OrderAction.SUBMIT, OrderAction.START, OrderAction.OPEN, OrderAction.CLOSE):
        state = transition(state, action)
    assert state is OrderState.CLOSED
    assert ORDER.terminal == {OrderState.CLOSED}


@pytest.mark.parametrize("state", [OrderState.DRAFT, OrderState.SUBMITTED, OrderState.IN_PROGRESS])
def test_cancel_from_open_states(state: OrderState) -> None:
    assert transition(state, OrderAction.CANCEL) is OrderState.CANCELLED


def test_every_order_end_state_closes() -> None:
    for end in (OrderState.OPENED, OrderState.REJECTED, OrderState.CANCELLED):
        assert transition(end, OrderAction.CLOSE) is OrderState.CLOSED


def test_every_state_is_reachable_from_initial() -> None:
    for lc in LIFECYCLES:
        seen = {lc.initial}
        frontier = [lc.initial]
        while frontier:
            s = frontier.pop()
            for (src, _), dst in lc.transitions.items():
                if src == s and dst not in seen:
                    seen.add(dst)
                    frontier.append(dst)
        assert seen == set(lc.states), lc.entity


def test_complaint_reopen_and_revisit() -> None:
    state = transition(ComplaintState.CREATED, ComplaintAction.DISPATCH)
    state = transition(state, ComplaintAction.RESOLVE)
    state = transition(state, ComplaintAction.REOPEN)
    assert state is ComplaintState.DISPATCHED
    state = transition(transition(state, ComplaintAction.RESOLVE), ComplaintAction.REVISIT, satisfaction=5)
    assert transition(state, ComplaintAction.ARCHIVE) is ComplaintState.ARCHIVED
    assert COMPLAINT.terminal == {ComplaintState.ARCHIVED}


@pytest.mark.parametrize("bad", [None, 0, 6, True, 3.5])
def test_revisit_needs_satisfaction_1_to_5(bad: Any) -> None:
    with pytest.raises(InvalidSatisfaction):
        transition(ComplaintState.RESOLVED, ComplaintAction.REVISIT, satisfaction=bad)


@pytest.mark.parametrize("score", [1, 2, 3, 4, 5])
def test_revisit_accepts_1_to_5(score: int) -> None:
    assert transition(ComplaintState.RESOLVED, ComplaintAction.REVISIT, satisfaction=score) is (
        ComplaintState.REVISITED
    )


def test_satisfaction_only_with_revisit() -> None:
    with pytest.raises(InvalidSatisfaction):
        transition(ComplaintState.CREATED, ComplaintAction.DISPATCH, satisfaction=3)


def test_illegal_revisit_is_409_before_satisfaction_422() -> None:
    with pytest.raises(IllegalTransition):
        transition(ComplaintState.CREATED, ComplaintAction.REVISIT)


def test_mixed_lifecycles_are_illegal() -> None:
    with pytest.raises(IllegalTransition):
        transition(OrderState.DRAFT, ComplaintAction.DISPATCH)  # type: ignore[call-overload]
    with pytest.raises(IllegalTransition):
        ORDER.transition(OrderState.DRAFT, OpportunityAction.CONFIRM)  # type: ignore[arg-type]


def test_opportunity() -> None:
    assert transition(OpportunityState.OPEN, OpportunityAction.CONFIRM) is OpportunityState.CONFIRMED
    assert transition(OpportunityState.OPEN, OpportunityAction.LOSE) is OpportunityState.LOST
    assert OPPORTUNITY.terminal == {OpportunityState.CONFIRMED, OpportunityState.LOST}


@pytest.mark.parametrize("role", list(Role))
def test_order_from_confirmed_opportunity_for_any_role(role: Role) -> None:
    check_order_creation(OpportunityState.CONFIRMED, role)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("opportunity", [OpportunityState.OPEN, OpportunityState.LOST])
def test_no_order_from_unconfirmed_opportunity(opportunity: OpportunityState, role: Role) -> None:
    with pytest.raises(OrderCreationNotAllowed):
        check_order_creation(opportunity, role)


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
def test_only_admin_creates_order_without_opportunity(role: Role) -> None:
    check_order_creation(None, Role.ADMIN)
    with pytest.raises(OrderCreationNotAllowed):
        check_order_creation(None, role)
