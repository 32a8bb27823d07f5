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
- a request whose effect is one statement needs no transaction of its own and no round trip for its key:
  in `backbone.db.autocommit` (each statement its own transaction) `commit_once` claims the key with the
  reply in it as a data-modifying CTE of the effect's statement (no placeholder, no UPDATE): a key taken
  fails that statement, effect included, and the stored reply is answered instead (or the 422). Its
  reads come first, outside it: a request refused by them (a 4xx of the domain) asks `replay` whether
  the key was answered already, so a retry gets the first reply whatever changed since (issue 16).

    async with autocommit(session):
        try:
            order = await decide_the_order(session, ...)       # reads, domain rules, the rows and events
        except DomainError:
            if (replay := await idem.replay(session)) is not None:
                return replay
            raise
        return await idem.commit_once(session, 201, out_of(order), effect=(insert_order, params_of(order)))

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
from sqlalchemy import Select, Table, Text, bindparam, cast, event, literal_column, select, true, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Delete, Insert, Update

from backbone.db import in_autocommit, run_direct
from backbone.deps import get_principal
from backbone.problems import Problem

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
_CLAIMED = "backbone.idempotency.claimed"  # session.info: keys claimed in this transaction, reply not stored yet


_NOT_JSON = (UnicodeDecodeError, json.JSONDecodeError, RecursionError)


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """sha256 over the method, the path and the body as canonical JSON (key order, blanks don't count)."""
    try:
        canonical = _canonical(json.loads(body))
    except _NOT_JSON:
        canonical = body.decode("utf-8", "replace")
    return _fingerprint(method, path, canonical)


async def _request_fingerprint(request: Request, path: str) -> str:
    """`request_fingerprint` of a request, its body's JSON taken from `request.json()`: the same `json.loads` of
    the same bytes, which the route's body parameter has made already (FastAPI), not made a second time (issue 16)."""
    try:
        canonical = _canonical(await request.json())
    except _NOT_JSON:
        canonical = (await request.body()).decode("utf-8", "replace")
    return _fingerprint(request.method, path, canonical)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _fingerprint(method: str, path: str, canonical: str) -> str:
    # surrogatepass: a JSON body may hold a lone surrogate ("\ud800"); hash it, the route refuses it (422).
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode("utf-8", "surrogatepass")).hexdigest()


#: The effect `commit_once` runs: a statement that takes CTEs.
Effect = Insert | Update | Delete | Select[Any]


class _Statements:
    """One table's statements, built once: SQLAlchemy reuses their compiled form, asyncpg its prepared one."""

    def __init__(self, t: Table) -> None:
        mine = (t.c.key == bindparam("b_key"), t.c.principal == bindparam("b_principal"))
        # The placeholder nobody sees: `finish` writes the reply before the commit.
        self.claim = (insert(t).values(key=bindparam("b_key"), principal=bindparam("b_principal"),
                                       request_hash=bindparam("b_hash"), status_code=literal_column("0"),
                                       response=literal_column("'{}'::jsonb"))
                      .on_conflict_do_nothing(index_elements=[t.c.key, t.c.principal])
                      .returning(true().label("claimed")))
        self.stored = select(t.c.request_hash, t.c.status_code, t.c.response).where(*mine)
        # The reply as JSON text made once (`_reply_text`): the bytes the response sends, not serialised again.
        response = cast(bindparam("b_response", type_=Text), JSONB)
        self.reply = update(t).where(*mine).values(status_code=bindparam("b_status"), response=response)
        # `commit_once`: the key and its reply in one insert, which fails (its statement with it) when the key is taken.
        self.claim_with_reply = insert(t).values(key=bindparam("b_key"), principal=bindparam("b_principal"),
                                                 request_hash=bindparam("b_hash"), status_code=bindparam("b_status"),
                                                 response=response)


@functools.cache
def _statements(table: Table) -> _Statements:
    return _Statements(table)


@functools.cache
def _claiming(table: Table, effect: Effect) -> Effect:
    """`effect` with the key's claim and reply as a data-modifying CTE of it. Built once per statement."""
    return effect.add_cte(_statements(table).claim_with_reply.cte("idempotency_claim"))


class _RenderedJSON(JSONResponse):
    """A JSON response whose body is JSON already (pydantic's serialiser): sent as is, not encoded again."""

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else super().render(content)


def _reply_text(body: bytes, headers: dict[str, str] | None) -> str:
    """The stored reply, `{"body": …, "headers": …}`, as JSON text around the response's own bytes."""
    return f'{{"body":{body.decode()},"headers":{json.dumps(headers or {}, ensure_ascii=False)}}}'


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
        ids = self._ids()
        st = _statements(self.table)
        row = None
        while row is None:
            if (await session.execute(st.claim, ids)).first() is not None:
                session.info.setdefault(_CLAIMED, set()).add((self.table.fullname, self.principal, self.key))
                return None
            # Taken by a committed request (a concurrent one was waited for by the claim): read in a new
            # snapshot; gone again only if the retention purge took it meanwhile, then claim once more.
            row = (await session.execute(st.stored, ids)).first()
        return self._replay_of(row)

    async def replay(self, session: AsyncSession) -> JSONResponse | None:
        """The stored reply of this key (422 if it answered another request), None if it has none (or there is
        no key): for a request in `commit_once`'s way that its reads refused."""
        if self.key is None:
            return None
        stored = _statements(self.table).stored
        if in_autocommit(session):  # on the block's connection: no second one from the pool
            rows = await run_direct(session, stored, {"b_key": self.key, "b_principal": self.principal})
            row = rows[0] if rows else None
        else:
            row = (await session.execute(stored, self._ids())).first()
        return None if row is None else self._replay_of(row)

    def _ids(self) -> dict[str, Any]:
        return {"b_key": self.key, "b_principal": self.principal, "b_hash": self.fingerprint}

    def _replay_of(self, row: Any) -> JSONResponse:
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
        raw = _json_bytes(body)
        if self.key is not None:
            await session.execute(_statements(self.table).reply, {
                "b_key": self.key, "b_principal": self.principal, "b_status": status_code,
                "b_response": _reply_text(raw, headers),
            })
            session.info.get(_CLAIMED, set()).discard((self.table.fullname, self.principal, self.key))
        return _RenderedJSON(raw, status_code=status_code, headers=headers)

    async def commit_once(self, session: AsyncSession, status_code: int, body: BaseModel | Any,
                          headers: dict[str, str] | None = None, *,
                          effect: tuple[Effect, dict[str, Any]]) -> JSONResponse:
        """Run the request's effect, one statement (a module's constant) with its parameters, with the key
        claimed and the reply stored by it, in `backbone.db.autocommit` (by the driver: `backbone.db.run_direct`);
        the reply, or the stored one when the key is taken (a retry, or a concurrent request that committed
        first: the effect is not applied)."""
        raw = _json_bytes(body)
        statement, params = effect
        if self.key is None:
            await run_direct(session, statement, params)
        else:
            try:
                await run_direct(session, _claiming(self.table, statement), {
                    **params, **self._ids(), "b_status": status_code, "b_response": _reply_text(raw, headers)})
            except IntegrityError:
                # The claim's primary key, or the effect's own constraint: only a stored key is a replay.
                if (replay := await self.replay(session)) is None:
                    raise
                return replay
        return _RenderedJSON(raw, status_code=status_code, headers=headers)


def _json_bytes(body: BaseModel | Any) -> bytes:
    """A reply's body as JSON, once: the response's bytes and the stored reply's. A model straight to JSON
    bytes (pydantic's core); anything else as Starlette renders it."""
    if isinstance(body, BaseModel):
        return body.model_dump_json(by_alias=True).encode()
    return bytes(_RenderedJSON(jsonable_encoder(body)).body)


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


#: what Starlette's `URL(scope=)` quotes (?, #, \\) or urllib's split drops (tab, CR, LF) in a path
_URL_CHANGES = ("?", "#", "\\", "\t", "\r", "\n")


def _path(request: Request) -> str:
    """`request.url.path` without building the URL (~20 µs per request): the scope's path, unless it holds a
    character the URL would change."""
    path: str = request.scope["path"]
    return request.url.path if any(c in path for c in _URL_CHANGES) else path


#: The `Idempotency-Key` header as a dependency's parameter (its OpenAPI description included).
KeyHeader = Annotated[
    str | None, Header(alias=HEADER, description="Repeat a POST safely: same key and same body → the first reply"),
]


def _key(idempotency_key: str | None) -> str | None:
    """The header's key, or the 422 naming the header when it is empty or longer than `MAX_KEY_LENGTH`."""
    key = idempotency_key.strip() if idempotency_key is not None else None
    if key is not None and not 1 <= len(key) <= MAX_KEY_LENGTH:
        message = f"must have 1 to {MAX_KEY_LENGTH} characters"
        raise Problem(422, "Invalid request", f"{HEADER} {message}",
                      errors=[{"field": HEADER, "message": message}])
    return key


async def idempotency_of(request: Request, table: Table, idempotency_key: str | None, principal: str) -> Idempotency:
    """The request's `Idempotency` on `table` for the caller `principal`, from its `KeyHeader` value (422 naming
    the header when the key is empty or longer than `MAX_KEY_LENGTH`): `idempotency_dependency`'s, for a
    dependency that resolves the caller itself."""
    return await _idempotency(request, table, _key(idempotency_key), principal)


async def _idempotency(request: Request, table: Table, key: str | None, principal: str) -> Idempotency:
    # Without a key nothing is compared: no canonical JSON of the body to make (a parse and a dump).
    fingerprint = "" if key is None else await _request_fingerprint(request, _path(request))
    return Idempotency(table=table, key=key, principal=principal, fingerprint=fingerprint)


def idempotency_dependency(table: Table) -> Callable[..., Awaitable[Idempotency]]:
    """A FastAPI dependency reading the `Idempotency-Key` header of a request into an `Idempotency`
    on `table` (422 naming the header when the key is empty or longer than `MAX_KEY_LENGTH`)."""

    async def get_idempotency(request: Request, idempotency_key: KeyHeader = None) -> Idempotency:
        key = _key(idempotency_key)
        # The caller as the route's authorization rule found it (`backbone.authz` resolves it first; the verifier
        # keeps the token it verified): asked here, not as a dependency of this one, which FastAPI would resolve
        # again, its header parameter and all, before finding it in its cache (issue 16).
        principal = await get_principal(request, request.headers.get("authorization"))
        return await _idempotency(request, table, key, principal.subject)

    return get_idempotency
