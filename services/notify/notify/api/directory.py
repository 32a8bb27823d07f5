"""/api/v1/directory: who notify knows (masked), and the admin's way to replace the directory."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel

from backbone.masking import mask_email, mask_phone
from notify.api.deps import AdminDep, ContextDep, DirectoryReaderDep, SessionDep
from notify.services.directory import store_directory

router = APIRouter(prefix="/api/v1/directory", tags=["directory"])


class PersonOut(BaseModel):
    id: str
    name: str
    roles: list[str]
    department: str
    phone: str | None
    email: str | None
    language: str
    timezone: str
    quiet_hours: str | None
    active: bool


class PeopleOut(BaseModel):
    version: int | None
    items: list[PersonOut]


class DirectoryStored(BaseModel):
    version: int
    people: int
    departments: int
    rosters: int


@router.get("/people", response_model=PeopleOut, summary="People of the current directory (phone / e-mail masked)")
async def list_people(
    session: SessionDep, principal: DirectoryReaderDep, ctx: ContextDep,
    role: str | None = Query(default=None, description="only people with this role"),
    department: str | None = Query(default=None),
) -> PeopleOut:
    version, current = await ctx.directory.current(session)
    people = [
        PersonOut(
            id=p.id, name=p.name, roles=list(p.roles), department=p.department,
            phone=mask_phone(p.phone) if p.phone else None,
            email=mask_email(p.email) if p.email else None,
            language=p.language, timezone=p.timezone,
            quiet_hours=str(p.quiet_hours) if p.quiet_hours else None, active=p.active,
        )
        for p in current.people
        if (role is None or role in p.roles) and (department is None or p.department == department)
    ]
    return PeopleOut(version=version, items=people)


@router.put("", response_model=DirectoryStored, summary="Store a new directory version (admin)")
async def put_directory(
    session: SessionDep, principal: AdminDep,
    content: dict[str, Any] = Body(description="people, departments, rosters, account_managers, escalation"),
) -> DirectoryStored:
    async with session.begin():
        version, stored = await store_directory(session, content=content, actor=principal.subject)
    return DirectoryStored(version=version, people=len(stored.people), departments=len(stored.departments),
                           rosters=len(stored.rosters))
