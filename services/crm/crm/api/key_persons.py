"""/api/v1/customers/{customer_id}/key-persons: the four kinds of key person (关键人物).

Phones and e-mails are masked in the list and in every write's reply; the full values show only
on the single-person GET, and only to the customer's own account manager or an admin.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy import select

from backbone.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, paginate
from backbone.shapes import ClosedModel
from crm import access
from crm.api.deps import CustomerReaderDep, IdempotencyDep, SessionDep, WriterDep
from crm.api.views import KeyPersonOut, key_person_out
from crm.domain.vocabulary import KeyPersonKind
from crm.models import key_persons
from crm.services import key_persons as service
from crm.services.customers import load_customer

router = APIRouter(prefix="/api/v1/customers/{customer_id}/key-persons", tags=["key persons"])

SORTS = {"created_at": key_persons.c.created_at, "name": key_persons.c.name, "kind": key_persons.c.kind}


class KeyPersonIn(ClosedModel):
    kind: KeyPersonKind
    name: str = Field(min_length=1, max_length=100)
    title: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=40, description="mainland mobile or landline with area code")
    email: str | None = Field(default=None, max_length=254)


class KeyPersonPatch(ClosedModel):
    kind: KeyPersonKind | None = None
    name: str | None = Field(default=None, min_length=1, max_length=100)
    title: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)


@router.get("", response_model=Page[KeyPersonOut], summary="Key persons of a customer (phone and e-mail masked)")
async def list_key_persons(
    customer_id: str, session: SessionDep, principal: CustomerReaderDep,
    kind: KeyPersonKind | None = None,
    sort: Annotated[str | None, Query(description=f"one of {', '.join(SORTS)}")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[KeyPersonOut]:
    await load_customer(session, access.customer_reader(principal), customer_id)
    stmt = select(key_persons).where(key_persons.c.customer_id == customer_id)
    if kind:
        stmt = stmt.where(key_persons.c.kind == kind.value)
    rows, next_cursor = await paginate(session, stmt, id_column=key_persons.c.id, sort=sort, allowed=SORTS,
                                       default_sort="created_at", limit=limit, cursor=cursor)
    return Page[KeyPersonOut](items=[key_person_out(r) for r in rows], next_cursor=next_cursor)


@router.post("", status_code=201, response_model=KeyPersonOut, summary="Add a key person")
async def add_key_person(customer_id: str, body: KeyPersonIn, session: SessionDep, principal: WriterDep,
                         idem: IdempotencyDep) -> JSONResponse:
    async with session.begin():
        if (replay := await idem.begin(session)) is not None:
            return replay
        scope = access.writer(principal)
        person_id = await service.add(session, scope=scope, customer_id=customer_id,
                                      data=body.model_dump(mode="json"))
        _, row = await service.load(session, scope, customer_id, person_id)
        return await idem.finish(session, 201, key_person_out(row),
                                 {"Location": f"/api/v1/customers/{customer_id}/key-persons/{person_id}"})


@router.get("/{person_id}", response_model=KeyPersonOut,
            summary="One key person; full phone and e-mail for the owning account manager or an admin")
async def get_key_person(customer_id: str, person_id: str, session: SessionDep,
                         principal: CustomerReaderDep) -> KeyPersonOut:
    customer, row = await service.load(session, access.customer_reader(principal), customer_id, person_id)
    return key_person_out(row, full=access.sees_full_contacts(principal, customer.account_manager_id))


@router.patch("/{person_id}", response_model=KeyPersonOut, summary="Change a key person")
async def patch_key_person(customer_id: str, person_id: str, body: KeyPersonPatch, session: SessionDep,
                           principal: WriterDep) -> KeyPersonOut:
    scope = access.writer(principal)
    async with session.begin():
        await service.change(session, scope=scope, customer_id=customer_id, person_id=person_id,
                             changes=body.model_dump(mode="json", exclude_unset=True))
        _, row = await service.load(session, scope, customer_id, person_id)
        return key_person_out(row)


@router.delete("/{person_id}", status_code=204, summary="Remove a key person")
async def delete_key_person(customer_id: str, person_id: str, session: SessionDep,
                            principal: WriterDep) -> Response:
    scope = access.writer(principal)
    async with session.begin():
        await service.remove(session, scope=scope, customer_id=customer_id, person_id=person_id)
    return Response(status_code=204)
