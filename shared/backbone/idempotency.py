"""Idempotency-Key for POST requests, stored in the transaction of the effect (any service).

    # api/deps.py: the service's table is made by `backbone.db.idempotency_table`
    IdempotencyDep = Annotated[Idempotency, Depends(idempotency_dependency(idempotency_keys))]

    async with session.begin():
        replay = await idem.begin(session)          # lock the key, look it up
        if replay is not None:
            return replay                           # same body: the first reply, nothing new
        out = await do_the_work(session)            # the effect ...
        return await idem.finish(session, 201, out) # ... and the stored reply commit together

- same key + same request (method, path, canonical JSON body) → the first reply, status and body;
- same key + another request → 422 problem+json naming the `Idempotency-Key` header;
- a request that fails rolls back, key included: retrying it runs it again;
- keys are per principal (two users may pick the same key); a transaction-scoped advisory lock
  serialises concurrent requests carrying the same key, so the second one waits and replays.
- stored replies are forgotten after `idempotency_retention_h` (`backbone.retention`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.deps import PrincipalDep
from backbone.problems import Problem

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """sha256 over the method, the path and the body as canonical JSON (key order, blanks don't count)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        canonical = body.decode("utf-8", "replace")
    # surrogatepass: a JSON body may hold a lone surrogate ("\ud800"); hash it, the route refuses it (422).
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class Idempotency:
    """One request's key (or None: the request is simply not idempotent) and fingerprint."""

    table: Table
    key: str | None
    principal: str
    fingerprint: str

    async def begin(self, session: AsyncSession) -> JSONResponse | None:
        """Inside the request's transaction: the stored reply of a replay, else None."""
        if self.key is None:
            return None
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
            {"k": f"idem:{self.table.fullname}:{self.principal}:{self.key}"},
        )
        t = self.table
        row = (
            await session.execute(
                select(t.c.request_hash, t.c.status_code, t.c.response).where(
                    t.c.key == self.key, t.c.principal == self.principal
                )
            )
        ).first()
        if row is None:
            return None
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
        content = jsonable_encoder(body)
        if self.key is not None:
            await session.execute(
                self.table.insert().values(
                    key=self.key, principal=self.principal, request_hash=self.fingerprint,
                    status_code=status_code, response={"body": content, "headers": headers or {}},
                    created_at=func.now(),
                )
            )
        return JSONResponse(content, status_code=status_code, headers=headers)



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
        body = await request.body()
        return Idempotency(
            table=table,
            key=key,
            principal=principal.subject,
            fingerprint=request_fingerprint(request.method, request.url.path, body),
        )

    return get_idempotency
