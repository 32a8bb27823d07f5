"""/api/v1/deliveries: delivery history (cursor pagination) and the admin resend."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from backbone.auth import Principal, require
from backbone.errors import Forbidden
from backbone.masking import mask_email, mask_phone
from backbone.pagination import Page
from backbone.vocabulary import TokenRole
from notify.api.deps import AdminDep, ContextDep, DeliveryReaderDep, SessionDep
from notify.services import deliveries as service

router = APIRouter(prefix="/api/v1/deliveries", tags=["deliveries"])

Status = Literal["queued", "sent", "delivered", "failed", "suppressed", "digested"]
_PUBLIC_STATUS = {"sending": "queued", "retrying": "queued"}


class ReceiptPartOut(BaseModel):
    """One part of an SMS as the SMSC took it, and its delivery receipt (DLR)."""

    part_no: int = Field(description="1-based; a long message is sent in several parts")
    message_id: str = Field(description="the SMSC's message id")
    submitted_at: datetime
    receipt_status: str | None = Field(description="the DLR's stat: DELIVRD, UNDELIV, REJECTD, EXPIRED, DELETED, "
                                                   "UNKNOWN… (null: no receipt yet)")
    receipt_error: str | None = Field(description="the DLR's err code")
    receipt_at: datetime | None = Field(description="when the receipt arrived")


class DeliveryOut(BaseModel):
    id: str
    source_event_id: str
    source_event_type: str
    ticket_id: str | None
    recipient_id: str
    channel: str
    address: str  # masked
    status: Status
    reason: str | None
    attempts: int
    subject: str | None
    body: str
    resend_of: str | None
    provider_message_id: str | None
    uncertain: bool
    delivered_at: datetime | None = Field(description="delivered: when the last part's receipt said DELIVRD")
    parts_total: int | None = Field(description="SMS: how many parts the message has")
    parts: list[ReceiptPartOut] = Field(description="SMS: each submitted part with its receipt (empty for e-mail)")
    created_at: datetime
    updated_at: datetime


def view(row: dict[str, Any], parts: Sequence[dict[str, Any]] = ()) -> DeliveryOut:
    address = row["address"]
    receipts = [ReceiptPartOut(part_no=p["part_no"], message_id=p["message_id"], submitted_at=p["submitted_at"],
                               receipt_status=p["dlr_stat"], receipt_error=p["dlr_err"], receipt_at=p["dlr_at"])
                for p in parts]
    delivered = [p.receipt_at for p in receipts if p.receipt_status == "DELIVRD" and p.receipt_at is not None]
    return DeliveryOut(
        **{k: row[k] for k in ("id", "source_event_id", "source_event_type", "ticket_id", "recipient_id", "channel",
                               "reason", "attempts", "subject", "body", "resend_of", "provider_message_id",
                               "created_at", "updated_at")},
        address=mask_phone(address) if row["channel"] == "sms" else mask_email(address),
        status=_PUBLIC_STATUS.get(row["status"], row["status"]),
        uncertain=bool(row["meta"].get("uncertain")),
        delivered_at=max(delivered) if row["status"] == "delivered" and delivered else None,
        parts_total=int(row["meta"]["parts"]) if row["channel"] == "sms" and row["meta"].get("parts") else None,
        parts=receipts,
    )


def _reader_scope(principal: Principal, recipient_id: str | None) -> str | None:
    """Supervisors and admins read everything; an account manager only their own deliveries."""
    if principal.has(TokenRole.SUPERVISOR, TokenRole.ADMIN):
        return recipient_id
    require(principal, TokenRole.ACCOUNT_MANAGER)
    if recipient_id not in (None, principal.subject):
        raise Forbidden("an account manager reads only their own deliveries")
    return principal.subject


@router.get("", response_model=Page[DeliveryOut], summary="Delivery history, newest first")
async def list_deliveries(
    session: SessionDep, principal: DeliveryReaderDep,
    ticket_id: str | None = Query(default=None, max_length=40),
    recipient_id: str | None = Query(default=None, max_length=60),
    status: Status | None = Query(default=None),
    limit: int = Query(default=50, ge=1, le=500),
    cursor: str | None = Query(default=None, max_length=200, description="next_cursor of the previous page"),
) -> Page[DeliveryOut]:
    recipient_id = _reader_scope(principal, recipient_id)
    rows, next_cursor = await service.list_deliveries(
        session, ticket_id=ticket_id, recipient_id=recipient_id, status=status, cursor=cursor, limit=limit,
    )
    parts = await service.sms_parts_of(session, [r["id"] for r in rows])
    return Page[DeliveryOut](items=[view(r, parts[r["id"]]) for r in rows], next_cursor=next_cursor)


@router.get("/{delivery_id}", response_model=DeliveryOut, summary="One delivery")
async def get_delivery(delivery_id: str, session: SessionDep, principal: DeliveryReaderDep) -> DeliveryOut:
    row = await service.get_delivery(session, delivery_id=delivery_id)
    own = (principal.has(TokenRole.SUPERVISOR, TokenRole.ADMIN)
           or _reader_scope(principal, None) == (row or {}).get("recipient_id"))
    if row is None or not own:
        raise service.DeliveryNotFound(f"delivery {delivery_id} does not exist")
    return view(row, (await service.sms_parts_of(session, [delivery_id]))[delivery_id])


@router.post("/{delivery_id}/resend", response_model=DeliveryOut, status_code=201,
             summary="Send again as a new delivery linked to the old one (admin)")
async def resend(delivery_id: str, session: SessionDep, principal: AdminDep, context: ContextDep) -> DeliveryOut:
    async with session.begin():
        row = await service.resend(session, delivery_id=delivery_id, actor=principal.subject)
    context.dispatch.wakeup.wake(row["channel"])  # committed: this process's idle dispatchers send it now
    return view(row)
