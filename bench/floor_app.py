"""The floor's apps (`bench.floor`): what the stack costs a POST that writes rows, with nothing of ours.

`FLOOR_KIND=fastapi` (FastAPI, a pydantic body model and response model, as the services' routes) or `asgi`
(a bare ASGI callable, `json` by hand); `FLOOR_TX=0`: one `INSERT … RETURNING` in autocommit; `FLOOR_TX=N`:
a transaction of N inserts (BEGIN, N statements, COMMIT: N + 2 round trips, the shape of an order's
transaction). asyncpg directly, with its prepared-statement cache; `FLOOR_DSN` the bench's PostgreSQL.

`FLOOR_GROUP` measures group commit, what the per-request transaction would become if concurrent requests
shared one (the requests that arrive while a transaction is out wait for the next; two transactions out at
most): `savepoint` keeps each request's N inserts apart in a savepoint of the shared transaction (a failing
request rolls back alone: N + 2 round trips per request, BEGIN and COMMIT per group); `rows` writes the
whole group's rows in one statement (3 round trips per group; a failure fails the group). `GET
/floor-stats` tells how many groups carried how many requests.
Run by uvicorn as the services are (`uvicorn bench.floor_app:app`); not a benchmark of its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI
from pydantic import BaseModel, Field

TX = int(os.environ.get("FLOOR_TX", "0"))
GROUP = os.environ.get("FLOOR_GROUP", "")
SQL = "INSERT INTO floor_orders (id, customer_id, body) VALUES ($1, $2, $3::jsonb) RETURNING id, created_at"
ROWS_SQL = ("INSERT INTO floor_orders (id, customer_id, body) SELECT * FROM unnest($1::text[], $2::text[], "
            "$3::jsonb[]) RETURNING id, created_at")
_pool: list[asyncpg.Pool] = []
_stats = {"groups": 0, "requests": 0}


async def setup() -> None:
    pool = await asyncpg.create_pool(os.environ["FLOOR_DSN"], min_size=4, max_size=10)
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS floor_orders (id text PRIMARY KEY, customer_id text NOT NULL, "
                           "body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())")
    _pool.append(pool)


class GroupCommit:
    """Requests that arrive while a transaction is out join the next one; at most `flushers` out at once."""

    def __init__(self, flushers: int = 2) -> None:
        self.pending: list[tuple[str, str, asyncio.Future[asyncpg.Record]]] = []
        self.flushers, self.running = flushers, 0
        self.tasks: set[asyncio.Task[None]] = set()

    async def submit(self, customer_id: str, raw: str) -> asyncpg.Record:
        future: asyncio.Future[asyncpg.Record] = asyncio.get_running_loop().create_future()
        self.pending.append((customer_id, raw, future))
        if self.running < self.flushers:
            self.running += 1
            task = asyncio.create_task(self._flush())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return await future

    async def _flush(self) -> None:
        try:
            while self.pending:
                group, self.pending = self.pending, []
                _stats["groups"] += 1
                _stats["requests"] += len(group)
                try:
                    rows = await self._write(group)
                except Exception as exc:  # the group's transaction failed: every request in it fails
                    for *_, future in group:
                        future.set_exception(exc)
                    continue
                for (*_, future), row in zip(group, rows, strict=True):
                    if isinstance(row, Exception):
                        future.set_exception(row)
                    else:
                        future.set_result(row)
        finally:
            self.running -= 1

    async def _write(self, group: list[tuple[str, str, asyncio.Future[asyncpg.Record]]]) -> list[Any]:
        async with _pool[0].acquire() as conn, conn.transaction():
            if GROUP == "rows":
                ids = [uuid.uuid4().hex for _ in range(len(group) * TX)]
                customers = [c for c, _, _ in group for _ in range(TX)]
                bodies = [b for _, b, _ in group for _ in range(TX)]
                rows: list[Any] = await conn.fetch(ROWS_SQL, ids, customers, bodies)
                return rows[TX - 1::TX]
            out: list[Any] = []
            for customer_id, raw, _ in group:
                try:
                    async with conn.transaction():  # a savepoint: this request alone rolls back
                        for _ in range(TX):
                            row = await conn.fetchrow(SQL, uuid.uuid4().hex, customer_id, raw)
                    out.append(row)
                except asyncpg.PostgresError as exc:
                    out.append(exc)
            return out


_group = GroupCommit()


async def work(customer_id: str, raw: str) -> dict[str, Any]:
    if GROUP:
        row = await _group.submit(customer_id, raw)
        return {"id": row["id"], "customer_id": customer_id, "created_at": row["created_at"].isoformat()}
    async with _pool[0].acquire() as conn:
        if TX == 0:
            row = await conn.fetchrow(SQL, uuid.uuid4().hex, customer_id, raw)
        else:
            async with conn.transaction():
                for _ in range(TX):
                    row = await conn.fetchrow(SQL, uuid.uuid4().hex, customer_id, raw)
    return {"id": row["id"], "customer_id": customer_id, "created_at": row["created_at"].isoformat()}


class ItemIn(BaseModel):
    product: str
    business_kind: str = "opening"
    attributes: dict[str, Any] = Field(default_factory=dict)


class OrderIn(BaseModel):
    customer_id: str = Field(min_length=1, max_length=40)
    channel: str = "account_manager"
    items: list[ItemIn] = Field(min_length=1, max_length=50)
    submit: bool = False


class OrderOut(BaseModel):
    id: str
    customer_id: str
    created_at: str


@asynccontextmanager
async def _lifespan(_: FastAPI) -> AsyncIterator[None]:
    await setup()
    yield


fastapi_app = FastAPI(lifespan=_lifespan)


@fastapi_app.post("/api/v1/orders", status_code=201, response_model=OrderOut)
async def create(body: OrderIn) -> dict[str, Any]:
    return await work(body.customer_id, body.model_dump_json())


@fastapi_app.get("/floor-stats")
async def floor_stats() -> dict[str, int]:
    return _stats


@fastapi_app.get("/readyz")
async def ready() -> dict[str, str]:
    return {"status": "ok"}


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def asgi_app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await setup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["method"] == "GET":
        out, status = b'{"status":"ok"}', 200
    else:
        data = json.loads(body)
        out, status = json.dumps(await work(data["customer_id"], json.dumps(data))).encode(), 201
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]})
    await send({"type": "http.response.body", "body": out})


app: Any = fastapi_app if os.environ.get("FLOOR_KIND", "fastapi") == "fastapi" else asgi_app
