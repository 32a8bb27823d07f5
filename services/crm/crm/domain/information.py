"""Information required: what an order or a cancellation request lacks before it can go on, as pure rules.

Product order. Capture needs what a product's schema `required`s; fulfilment needs more: the attributes its
`x-fulfilment-required` names (`crm/data/products.yaml`: the SIM cards of an M2M or industry OTA order are
shipped to `sim_delivery_address`). An order that lacks one of them is accepted but held back from
fulfilment: it stays a draft (the EOMS has not seen it) whose TMF622 state is `pending`, the missing items
listed, until a PATCH brings them; then it is submitted as any order (`crm/services/product_orders.py`).
Submitting it before (the native face's submit) is a 409 (`check_submit`).

Cancellation request. An order whose EOMS tickets are being worked (in_progress: field work may have
started) is cancelled only with a reason the network can act on and report against: a request without a
`cancellationReason` waits, `information_required` (TMF622 task state `acknowledged`, the order
`assessingCancellation`), until the requester POSTs it again with the reason (`crm/services/cancellations.py`).

Fields are named natively (`items.0.attributes.sim_delivery_address`, as `crm.services.orders` names item
errors); `tmf_field` gives the TMF622 path (`productOrderItem.0.product.productCharacteristic.<name>`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from backbone import errors
from backbone.events import InformationItem
from crm.domain.lifecycle import OrderState
from crm.domain.products import Catalogue


@dataclass(frozen=True)
class Missing:
    """One piece of information an order or a cancellation lacks: the field (native name) and why."""

    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}

    def as_item(self) -> InformationItem:
        """As the events carry it (`crm.order.information_required`, `..cancellation_information_required`)."""
        return InformationItem(field=self.field, reason=self.reason)


def missing_for_fulfilment(items: Sequence[Mapping[str, Any]], catalogue: Catalogue) -> list[Missing]:
    """What fulfilment needs and the items (`product`, `business_kind`, `attributes`; already valid for capture)
    lack, in item order."""
    out: list[Missing] = []
    for i, item in enumerate(items):
        product = catalogue.get(str(item["product"]))
        attributes = item.get("attributes") or {}
        for name in product.fulfilment_required(item["business_kind"]):
            if name not in attributes:
                out.append(Missing(f"items.{i}.attributes.{name}",
                                   f"{product.id} {item['business_kind']}: fulfilment needs {name}"))
    return out


class AwaitingInformation(errors.Conflict):
    """A draft held back for information may not be submitted before it is given (409 naming the first missing
    field): submitting it anyway would send the EOMS an order it cannot fulfil."""

    code = "information_required"


def check_submit(information_required: Sequence[Mapping[str, str]] | None) -> None:
    """Raise AwaitingInformation while the order still lacks what fulfilment needs."""
    if information_required:
        missing = [Missing(m["field"], m["reason"]) for m in information_required]
        raise AwaitingInformation(f"the order waits for {describe(missing).removeprefix('information required: ')}; "
                                  "give it first (TMF622 PATCH of productOrderItem)", field=missing[0].field)


#: order states in which a cancellation needs a cancellationReason before it is assessed
REASON_REQUIRED = frozenset({OrderState.IN_PROGRESS})


def missing_for_cancellation(order_state: OrderState, reason: str | None) -> list[Missing]:
    """What a cancellation request of an order in `order_state` lacks before it can be assessed."""
    if order_state in REASON_REQUIRED and not (reason or "").strip():
        return [Missing("cancellationReason", "the order's EOMS tickets are being worked: cancelling it needs "
                                              "a cancellationReason for the network")]
    return []


def describe(missing: Sequence[Missing]) -> str:
    """`information required: a (why); b (why)`, the text a waiting request shows (`stateReason`)."""
    return "information required: " + "; ".join(f"{tmf_field(m.field)} ({m.reason})" for m in missing)


def tmf_field(field: str) -> str:
    """A native field name as TMF622 names it: items.0.attributes.x → productOrderItem.0.product.
    productCharacteristic.x, items.0.product → productOrderItem.0.product.productSpecification.id, customer_id →
    relatedParty, order_id → id; anything else as it is."""
    parts = field.split(".", 3)
    if parts[0] != "items" or len(parts) < 3:
        return {"customer_id": "relatedParty", "order_id": "id"}.get(field, field)
    head = f"productOrderItem.{parts[1]}"
    rest = {"product": "product.productSpecification.id", "business_kind": "action",
            "attributes": "product.productCharacteristic"}.get(parts[2], parts[2])
    return ".".join([head, rest, *parts[3:]])


def field_path(missing: Sequence[Mapping[str, str]]) -> str:
    """The `fieldPath` of an InformationRequired event: the TMF622 paths of the missing fields, comma-separated."""
    return ",".join(tmf_field(m["field"]) for m in missing)
