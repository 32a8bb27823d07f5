"""Key persons (关键人物) of a customer. Phones and e-mails are stored normalised, shown masked."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.ids import new_id
from backbone.masking import mask_email, mask_phone
from crm.domain.errors import DomainError, EntityNotFound
from crm.domain.key_persons import KeyPerson
from crm.domain.scope import Scope
from crm.models import key_persons
from crm.services.customers import load_customer

log = logging.getLogger("crm.key_persons")


def validated(data: dict[str, Any]) -> KeyPerson:
    """The domain model; its phone / e-mail errors become 422 entries naming the field."""
    try:
        return KeyPerson.model_validate(data)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e["loc"]) or "body",
                   "message": e["msg"].removeprefix("Value error, ")} for e in exc.errors()]
        raise DomainError("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors,
                          code="invalid_key_person") from None


async def load(session: AsyncSession, scope: Scope, customer_id: str, person_id: str) -> tuple[Any, Any]:
    """The customer (within the scope) and its key person; 404 otherwise."""
    customer = await load_customer(session, scope, customer_id)
    row = (await session.execute(select(key_persons).where(
        key_persons.c.id == person_id, key_persons.c.customer_id == customer_id))).first()
    if row is None:
        raise EntityNotFound("key person", person_id)
    return customer, row


async def add(session: AsyncSession, *, scope: Scope, customer_id: str, data: dict[str, Any]) -> str:
    await load_customer(session, scope, customer_id)
    person = validated(data)
    person_id = new_id("kp")
    now = datetime.now(UTC)
    await session.execute(key_persons.insert().values(
        id=person_id, customer_id=customer_id, created_at=now, updated_at=now, **person.model_dump(mode="json")))
    log.info("key person %s (%s) added to %s: phone %s, e-mail %s", person_id, person.kind.value, customer_id,
             mask_phone(person.phone) if person.phone else "-", mask_email(person.email) if person.email else "-")
    return person_id


async def change(session: AsyncSession, *, scope: Scope, customer_id: str, person_id: str,
                 changes: dict[str, Any]) -> None:
    _, row = await load(session, scope, customer_id, person_id)
    current = {k: row._mapping[k] for k in ("name", "kind", "title", "phone", "email")}
    person = validated({**current, **changes})
    await session.execute(update(key_persons).where(key_persons.c.id == person_id)
                          .values(**person.model_dump(mode="json"), updated_at=datetime.now(UTC)))


async def remove(session: AsyncSession, *, scope: Scope, customer_id: str, person_id: str) -> None:
    await load(session, scope, customer_id, person_id)
    await session.execute(delete(key_persons).where(key_persons.c.id == person_id))
