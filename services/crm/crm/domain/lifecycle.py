"""Lifecycles of orders, complaints and opportunities as pure transition tables.

``transition(state, action)`` returns the next state or raises ``IllegalTransition`` (a 409
Conflict). The tables are exposed (``ORDER``, ``COMPLAINT``, ``OPPORTUNITY`` and their
``transitions`` mappings) so that tests and docs can enumerate every legal and illegal pair.

Order:        draft -submit-> submitted -start-> in_progress -open-> opened
              submitted | in_progress -reject-> rejected
              draft | submitted | in_progress -cancel-> cancelled
              opened | rejected | cancelled -close-> closed
Complaint:    created -dispatch-> dispatched -resolve-> resolved -revisit(satisfaction 1..5)->
              revisited -archive-> archived;  resolved -reopen-> dispatched
Opportunity:  open -confirm-> confirmed;  open -lose-> lost
An order is created from a confirmed opportunity, or without one by an admin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Generic, TypeVar, overload

from backbone import errors
from backbone.vocabulary import OpportunityState, TokenRole
from crm.domain.errors import DomainError

S = TypeVar("S", bound=StrEnum)
A = TypeVar("A", bound=StrEnum)


class OrderState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_PROGRESS = "in_progress"
    OPENED = "opened"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    CLOSED = "closed"


class OrderAction(StrEnum):
    SUBMIT = "submit"
    START = "start"
    OPEN = "open"
    REJECT = "reject"
    CANCEL = "cancel"
    CLOSE = "close"


class ComplaintState(StrEnum):
    CREATED = "created"
    DISPATCHED = "dispatched"
    RESOLVED = "resolved"
    REVISITED = "revisited"
    ARCHIVED = "archived"


class ComplaintAction(StrEnum):
    DISPATCH = "dispatch"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    REVISIT = "revisit"
    ARCHIVE = "archive"


class OpportunityAction(StrEnum):
    CONFIRM = "confirm"
    LOSE = "lose"


class IllegalTransition(errors.IllegalTransition):
    """``action`` is not allowed in state ``from_state`` (409, naming ``status``, with ``entity``,
    ``from_state`` and ``action``)."""

    def __init__(self, from_state: StrEnum | str, action: StrEnum | str, entity: str = "") -> None:
        what = f"{entity} " if entity else ""
        super().__init__(
            f"cannot {_value(action)} {what}in state {_value(from_state)}".replace("  ", " "),
            entity=entity or None, from_state=_value(from_state), action=_value(action), field="status",
        )
        self.entity = entity


class InvalidSatisfaction(DomainError):
    """Revisit without a satisfaction score 1..5, or a score given to another action (422 naming
    ``satisfaction``)."""

    code = "invalid_satisfaction"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="satisfaction")


class OrderCreationNotAllowed(errors.Conflict):
    """An order needs a confirmed opportunity unless an admin creates it directly (409 naming
    ``opportunity_id``)."""

    code = "order_creation_not_allowed"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="opportunity_id")


def _value(x: StrEnum | str) -> str:
    return x.value if isinstance(x, StrEnum) else str(x)


@dataclass(frozen=True)
class Lifecycle(Generic[S, A]):
    entity: str
    state_type: type[S]
    action_type: type[A]
    initial: S
    transitions: Mapping[tuple[S, A], S]

    @property
    def states(self) -> list[S]:
        return list(self.state_type)

    @property
    def actions(self) -> list[A]:
        return list(self.action_type)

    @property
    def terminal(self) -> frozenset[S]:
        """States with no way out."""
        sources = {s for s, _ in self.transitions}
        return frozenset(s for s in self.state_type if s not in sources)

    def allowed_actions(self, state: S) -> list[A]:
        return [a for (s, a) in self.transitions if s == state]

    def is_allowed(self, state: S, action: A) -> bool:
        return (state, action) in self.transitions

    def transition(self, state: S, action: A) -> S:
        if not isinstance(state, self.state_type) or not isinstance(action, self.action_type):
            raise IllegalTransition(state, action, self.entity)
        try:
            return self.transitions[(state, action)]
        except KeyError:
            raise IllegalTransition(state, action, self.entity) from None


def _table(rows: dict[tuple[S, A], S]) -> Mapping[tuple[S, A], S]:
    return MappingProxyType(rows)


_O, _OA = OrderState, OrderAction
ORDER: Lifecycle[OrderState, OrderAction] = Lifecycle(
    entity="order",
    state_type=OrderState,
    action_type=OrderAction,
    initial=OrderState.DRAFT,
    transitions=_table(
        {
            (_O.DRAFT, _OA.SUBMIT): _O.SUBMITTED,
            (_O.SUBMITTED, _OA.START): _O.IN_PROGRESS,
            (_O.IN_PROGRESS, _OA.OPEN): _O.OPENED,
            (_O.SUBMITTED, _OA.REJECT): _O.REJECTED,
            (_O.IN_PROGRESS, _OA.REJECT): _O.REJECTED,
            (_O.DRAFT, _OA.CANCEL): _O.CANCELLED,
            (_O.SUBMITTED, _OA.CANCEL): _O.CANCELLED,
            (_O.IN_PROGRESS, _OA.CANCEL): _O.CANCELLED,
            (_O.OPENED, _OA.CLOSE): _O.CLOSED,
            (_O.REJECTED, _OA.CLOSE): _O.CLOSED,
            (_O.CANCELLED, _OA.CLOSE): _O.CLOSED,
        }
    ),
)

_C, _CA = ComplaintState, ComplaintAction
COMPLAINT: Lifecycle[ComplaintState, ComplaintAction] = Lifecycle(
    entity="complaint",
    state_type=ComplaintState,
    action_type=ComplaintAction,
    initial=ComplaintState.CREATED,
    transitions=_table(
        {
            (_C.CREATED, _CA.DISPATCH): _C.DISPATCHED,
            (_C.DISPATCHED, _CA.RESOLVE): _C.RESOLVED,
            (_C.RESOLVED, _CA.REOPEN): _C.DISPATCHED,
            (_C.RESOLVED, _CA.REVISIT): _C.REVISITED,
            (_C.REVISITED, _CA.ARCHIVE): _C.ARCHIVED,
        }
    ),
)

_P, _PA = OpportunityState, OpportunityAction
OPPORTUNITY: Lifecycle[OpportunityState, OpportunityAction] = Lifecycle(
    entity="opportunity",
    state_type=OpportunityState,
    action_type=OpportunityAction,
    initial=OpportunityState.OPEN,
    transitions=_table(
        {
            (_P.OPEN, _PA.CONFIRM): _P.CONFIRMED,
            (_P.OPEN, _PA.LOSE): _P.LOST,
        }
    ),
)

ORDER_TRANSITIONS = ORDER.transitions
COMPLAINT_TRANSITIONS = COMPLAINT.transitions
OPPORTUNITY_TRANSITIONS = OPPORTUNITY.transitions

SATISFACTION_MIN, SATISFACTION_MAX = 1, 5


@overload
def transition(state: OrderState, action: OrderAction) -> OrderState: ...
@overload
def transition(
    state: ComplaintState, action: ComplaintAction, *, satisfaction: int | None = None
) -> ComplaintState: ...
@overload
def transition(state: OpportunityState, action: OpportunityAction) -> OpportunityState: ...


def transition(state: StrEnum, action: StrEnum, *, satisfaction: int | None = None) -> StrEnum:
    """Next state of an order, complaint or opportunity; raise ``IllegalTransition`` if none.

    A complaint's ``revisit`` needs ``satisfaction`` (1..5); no other action takes one.
    """
    if isinstance(state, OrderState) and isinstance(action, OrderAction):
        new_state: StrEnum = ORDER.transition(state, action)
    elif isinstance(state, OpportunityState) and isinstance(action, OpportunityAction):
        new_state = OPPORTUNITY.transition(state, action)
    elif isinstance(state, ComplaintState) and isinstance(action, ComplaintAction):
        new_state = COMPLAINT.transition(state, action)
        if action is ComplaintAction.REVISIT:
            validate_satisfaction(satisfaction)
            return new_state
    else:
        raise IllegalTransition(state, action)
    if satisfaction is not None:
        raise InvalidSatisfaction(f"a satisfaction score goes only with revisit, not {action.value}")
    return new_state


def validate_satisfaction(satisfaction: int | None) -> int:
    if satisfaction is None:
        raise InvalidSatisfaction("revisit needs the customer's satisfaction score (1..5)")
    if isinstance(satisfaction, bool) or not isinstance(satisfaction, int):
        raise InvalidSatisfaction("satisfaction must be an integer from 1 to 5")
    if not SATISFACTION_MIN <= satisfaction <= SATISFACTION_MAX:
        raise InvalidSatisfaction(f"satisfaction must be from 1 to 5, got {satisfaction}")
    return satisfaction


def check_order_creation(opportunity: OpportunityState | None, role: TokenRole) -> None:
    """Raise ``OrderCreationNotAllowed`` unless an order may be created.

    With an opportunity, it must be confirmed (whoever creates the order); without one, only
    an admin may create an order.
    """
    if opportunity is None:
        if role is not TokenRole.ADMIN:
            raise OrderCreationNotAllowed(
                "an order is created from a confirmed opportunity (only an admin may skip it)"
            )
        return
    if opportunity is not OpportunityState.CONFIRMED:
        raise OrderCreationNotAllowed(f"the opportunity is {opportunity.value}: an order needs a confirmed opportunity")
