"""Idempotency-Key for POST requests, stored in the transaction of the effect (any service).

    # api/deps.py: the service's table is made by `backbone.db.idempotency_table`
    IdempotencyDep = Annotated[Idempotency, Depends(idempotency_dependency(idempotency_keys))]

    async with session.begin():
        replay = await idem.begin(session)          # claim the key, or read its reply
        if replay is not None:
            return replay                           # same body: the first reply, nothing new
        out = await do_the_work(session)            # the effect ...
        return await idem.finish(session, 201, out) # ... and the stored reply commit together

- same key + same request (method, path, canonical JSON body) → the first reply, status and body;
- same key + another request → 422 problem+json naming the `Idempotency-Key` header;
- a request that fails rolls back, key included: retrying it runs it again;
- keys are per principal (two users may pick the same key). `begin` claims the key with one
  `INSERT … ON CONFLICT DO NOTHING` (a placeholder row nobody sees before the commit) and `finish`
  fills in the reply (one UPDATE of that row): two round trips for a new request, where a lock, a
  lookup and an insert were three (issue 16, docs/benchmarks.md). A concurrent request with the same
  key waits on the uncommitted row's primary key, then finds it committed and replays (or claims the
  key itself if the first rolled back). A transaction that claimed a key must `finish` before it
  commits: committing without the reply fails the commit (a programming error, never a stored blank).
- stored replies are forgotten after `idempotency_retention_h` (`backbone.retention`).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Table, bindparam, event, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backbone.deps import PrincipalDep
from backbone.problems import Problem

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
_CLAIMED = "backbone.idempotency.claimed"  # session.info: keys claimed in this transaction, reply not stored yet


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """sha256 over the method, the path and the body as canonical JSON (key order, blanks don't count)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        canonical = body.decode("utf-8", "replace")
    # surrogatepass: a JSON body may hold a lone surrogate ("\ud800"); hash it, the route refuses it (422).
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode("utf-8", "surrogatepass")).hexdigest()


class _Statements:
    """One table's statements, built once: SQLAlchemy reuses their compiled form, asyncpg its prepared one."""

    def __init__(self, t: Table) -> None:
        self.claim = insert(t).on_conflict_do_nothing(index_elements=[t.c.key, t.c.principal]).returning(literal(True))
        mine = (t.c.key == bindparam("b_key"), t.c.principal == bindparam("b_principal"))
        self.stored = select(t.c.request_hash, t.c.status_code, t.c.response).where(*mine)
        self.reply = update(t).where(*mine).values(status_code=bindparam("b_status"),
                                                  response=bindparam("b_response", type_=t.c.response.type))


@functools.cache
def _statements(table: Table) -> _Statements:
    return _Statements(table)


@dataclass
class Idempotency:
    """One request's key (or None: the request is simply not idempotent) and fingerprint."""

    table: Table
    key: str | None
    principal: str
    fingerprint: str

    async def begin(self, session: AsyncSession) -> JSONResponse | None:
        """Inside the request's transaction: the stored reply of a replay, else None (the key is now ours)."""
        if self.key is None:
            return None
        ids = {"b_key": self.key, "b_principal": self.principal}
        claim = {"key": self.key, "principal": self.principal, "request_hash": self.fingerprint, "status_code": 0,
                 "response": {}}  # the placeholder nobody sees: `finish` writes the reply before the commit
        st = _statements(self.table)
        row = None
        while row is None:
            if (await session.execute(st.claim, claim)).first() is not None:
                session.info.setdefault(_CLAIMED, set()).add((self.table.fullname, self.principal, self.key))
                return None
            # Taken by a committed request (a concurrent one was waited for by the claim): read in a new
            # snapshot; gone again only if the retention purge took it meanwhile, then claim once more.
            row = (await session.execute(st.stored, ids)).first()
        if row.request_hash != self.fingerprint:
            raise Problem(
                422, "Idempotency key reused",
                f"the {HEADER} {self.key!r} was already used with another request",
                errors=[{"field": HEADER, "message": "already used with a different request body or path"}],
            )
        stored = row.response
        return JSONResponse(stored["body"], status_code=int(row.status_code),
                            headers={**stored.get("headers", {}), "Idempotent-Replayed": "true"})

    async def finish(self, session: AsyncSession, status_code: int, body: BaseModel | Any,
                     headers: dict[str, str] | None = None) -> JSONResponse:
        """Store the reply (when there is a key) in the same transaction, and return it."""
        # A model straight to JSON types (pydantic's core); jsonable_encoder walks the result again in Python.
        content = body.model_dump(mode="json", by_alias=True) if isinstance(body, BaseModel) else jsonable_encoder(body)
        if self.key is not None:
            await session.execute(_statements(self.table).reply, {
                "b_key": self.key, "b_principal": self.principal, "b_status": status_code,
                "b_response": {"body": content, "headers": headers or {}},
            })
            session.info.get(_CLAIMED, set()).discard((self.table.fullname, self.principal, self.key))
        return JSONResponse(content, status_code=status_code, headers=headers)


class UnfinishedIdempotency(RuntimeError):
    """A transaction claimed an Idempotency-Key and tried to commit without storing the reply."""


@event.listens_for(Session, "before_commit")
def _unfinished(session: Session) -> None:
    # The outermost commit only: a savepoint released inside the request (`begin_nested`) is not the end.
    if not session.in_nested_transaction() and (pending := session.info.get(_CLAIMED)):
        raise UnfinishedIdempotency(f"{HEADER} claimed without a stored reply: {sorted(pending)!r}")


@event.listens_for(Session, "after_transaction_end")
def _forget_claims(session: Session, transaction: Any) -> None:
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_CLAIMED, None)


def idempotency_dependency(table: Table) -> Callable[..., Awaitable[Idempotency]]:
    """A FastAPI dependency reading the `Idempotency-Key` header of a request into an `Idempotency`
    on `table` (422 naming the header when the key is empty or longer than `MAX_KEY_LENGTH`)."""

    async def get_idempotency(
        request: Request,
        principal: PrincipalDep,
        idempotency_key: Annotated[
            str | None,
            Header(alias=HEADER, description="Repeat a POST safely: same key and same body → the first reply"),
        ] = None,
    ) -> Idempotency:
        key = idempotency_key.strip() if idempotency_key is not None else None
        if key is not None and not 1 <= len(key) <= MAX_KEY_LENGTH:
            message = f"must have 1 to {MAX_KEY_LENGTH} characters"
            raise Problem(422, "Invalid request", f"{HEADER} {message}",
                          errors=[{"field": HEADER, "message": message}])
        # Without a key nothing is compared: no canonical JSON of the body to make (a parse and a dump).
        fingerprint = "" if key is None else request_fingerprint(request.method, request.url.path,
                                                                 await request.body())
        return Idempotency(table=table, key=key, principal=principal.subject, fingerprint=fingerprint)

    return get_idempotency
