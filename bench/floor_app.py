"""The floor's apps (`bench.floor`): what the stack costs a POST that writes rows, with nothing of ours.

`FLOOR_KIND=fastapi` (FastAPI, a pydantic body model and response model, as the services' routes) or `asgi`
(a bare ASGI callable, `json` by hand); `FLOOR_TX=0`: one `INSERT … RETURNING` in autocommit; `FLOOR_TX=N`:
a transaction of N inserts (BEGIN, N statements, COMMIT: N + 2 round trips, the shape of an order's
transaction). asyncpg directly, with its prepared-statement cache; `FLOOR_DSN` the bench's PostgreSQL.
Run by uvicorn as the services are (`uvicorn bench.floor_app:app`); not a benchmark of its own.
"""

from __future__ import annotations

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
SQL = "INSERT INTO floor_orders (id, customer_id, body) VALUES ($1, $2, $3::jsonb) RETURNING id, created_at"
_pool: list[asyncpg.Pool] = []


async def setup() -> None:
    pool = await asyncpg.create_pool(os.environ["FLOOR_DSN"], min_size=4, max_size=10)
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS floor_orders (id text PRIMARY KEY, customer_id text NOT NULL, "
                           "body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())")
    _pool.append(pool)


async def work(customer_id: str, raw: str) -> dict[str, Any]:
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
