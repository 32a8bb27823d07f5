"""Async SQLAlchemy engine and session factory; the column kinds every service's tables share; the outbox,
inbox and idempotency-key tables each service owns."""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.exc
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import greenlet_spawn

from backbone.outbox import OUTBOX_BINDING, OutboxBinding


def make_engine(
    url: str, *, pool_size: int = 10, schema: str | None = None, connect_timeout_s: float = 10.0
) -> AsyncEngine:
    """The one way a service gets an engine. `hide_parameters`: a database error's message carries no
    bound values (phones, names) into logs, tracebacks or a DLQ `dlq.reason` header (docs/security.md).

    At most 2 × `pool_size` connections, each kept once opened (no overflow): an overflow connection closed
    after every burst above `pool_size` cost the next burst a connect, the driver's type introspection and
    statement preparation again, and PostgreSQL a backend (the CRM at 300 orders/s: ~7 % of its CPU, issue 16)."""
    connect_args: dict[str, object] = {"timeout": connect_timeout_s}
    if schema:
        # Each service lives in its own schema; unqualified names resolve there first.
        connect_args["server_settings"] = {"search_path": f"{schema},public"}
    return create_async_engine(
        url, pool_size=2 * pool_size, max_overflow=0, pool_pre_ping=False, connect_args=connect_args,
        hide_parameters=True,
    )


async def db_now(session: AsyncSession) -> datetime:
    """The database's clock (`clock_timestamp()`, in UTC): the time a service stamps what it records and
    publishes (a ticket's node entered or completed, a timer's fire time), so every instance agrees on
    it; never one instance's own clock, which may run ahead or behind (docs/reliability.md, clock-skew)."""
    now: datetime = (await session.execute(sa.select(sa.func.clock_timestamp()))).scalar_one()
    return now.astimezone(UTC)


@asynccontextmanager
async def autocommit(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """The session's statements each their own transaction (PostgreSQL's autocommit) until the block ends: for a
    request whose reads need no common snapshot and whose writes are one statement (an order, its items, its
    outbox rows and its stored reply: `backbone.idempotency`'s `commit_once`), no BEGIN and no COMMIT round
    trip (issue 16). The after-commit callbacks (`backbone.workers.after_commit`: the relay's wake-up) run
    when the block ends without an error; a statement that failed wrote nothing, the ones before it stay.

    `run_direct`'s statements run on a connection the block takes from the engine's pool itself, in the
    driver's autocommit, and gives back at its end: none of the session's per-transaction work (its
    transaction, connection and commit: ~120 µs of CPU per block, issue 16). A statement the session itself
    executes in the block runs in a transaction of the session's own, on a second connection, committed when
    the block ends (rolled back on an error): a block's reads are `run_direct`'s (a request holding one pooled
    connection while it waits for another is how a pool runs dry under load). A session already in a
    transaction, or bound to no single engine, takes the session's own connection in autocommit instead."""
    engine = session.bind
    if session.in_transaction() or not isinstance(engine, AsyncEngine) or session.info.get(_DIRECT_TARGET):
        async with session.begin():
            conn = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            session.info[_DIRECT_TARGET] = _Target.of(conn)
            try:
                yield session
            finally:
                session.info.pop(_DIRECT_TARGET, None)
        return
    fairy = await greenlet_spawn(engine.sync_engine.pool.connect)
    target = _Target(engine.dialect, fairy.dbapi_connection, fairy, engine.sync_engine.get_execution_options())
    target.adapted.autocommit = True
    session.info[_DIRECT_TARGET] = target
    try:
        yield session
    except BaseException:
        if session.in_transaction():
            await session.rollback()
        else:  # nothing of the session's: its after-commit callbacks dropped as a rollback drops them
            session.sync_session.begin()
            session.sync_session.rollback()
        raise
    finally:
        session.info.pop(_DIRECT_TARGET, None)
        if not target.invalidated:
            target.adapted.autocommit = False
        await greenlet_spawn(fairy.close)  # back to the pool (no transaction is open: nothing to roll back)
    if session.in_transaction():
        await session.commit()  # the session's own statements; its after-commit callbacks run
    else:
        session.sync_session.dispatch.after_commit(session.sync_session)  # the callbacks, as a commit runs them


# --- statements the driver runs directly (issue 16) ---------------------------------------------------


@dataclass(frozen=True)
class _Direct:
    """A Core statement compiled once for a dialect: its SQL with positional parameters, each parameter's
    SQLAlchemy bind processor (JSON to text, arrays item by item) and a row type naming its columns."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    defaults: Mapping[str, Any]  # the values the statement's own bound literals carry
    row: type[tuple[Any, ...]] | None
    results: tuple[Callable[[Any], Any] | None, ...] | None  # SQLAlchemy's result processors, if any column has one

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        values = [params[n] if n in params else self.defaults[n] for n in self.names]
        return [v if p is None else p(v) for v, p in zip(values, self.processors, strict=True)]

    def rows(self, records: list[Any]) -> list[Any]:
        if self.row is None:
            return []
        if self.results is None:
            return [self.row(*r) for r in records]
        return [self.row(*(v if p is None else p(v) for v, p in zip(r, self.results, strict=True))) for r in records]


def row_type(columns: Sequence[sa.ColumnElement[Any]]) -> type[tuple[Any, ...]]:
    """A named tuple of `columns` by their keys (a label's name): a result's rows as plain tuples, whose
    attributes cost a tenth of a SQLAlchemy `Row`'s on a hot path that reads them many times."""
    return namedtuple("Row", [c.key for c in columns], rename=True)  # type: ignore[misc]


@functools.cache
def _direct(statement: sa.ClauseElement, dialect: Dialect) -> _Direct:
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    names = tuple(compiled.positiontup or ())
    by_name = {name: bind for bind, name in compiled.bind_names.items()}  # anonymous binds get their names here
    binds = [by_name[n] for n in names]
    processors = tuple(b.type.dialect_impl(dialect).bind_processor(dialect) for b in binds)
    defaults = {n: b.effective_value for n, b in zip(names, binds, strict=True) if not b.required}
    columns = list(getattr(statement, "selected_columns", None) or getattr(statement, "_returning", None) or ())
    results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
    row = row_type(columns) if columns else None
    return _Direct(compiled.string, names, processors, defaults, row, results if any(results) else None)


_DIRECT_TARGET = "backbone.db.direct"  # session.info in `autocommit`: the connection run_direct runs on


@dataclass
class _Target:
    """The connection `run_direct` runs on in `autocommit`: SQLAlchemy's adapter of the asyncpg connection, and the
    pooled connection (or the session's) to invalidate when the driver reports it broken."""

    dialect: Dialect
    adapted: Any
    owner: Any  # the pool's connection, or the session's AsyncConnection
    options: Mapping[str, Any]  # the engine's execution options
    invalidated: bool = False

    @classmethod
    def of(cls, conn: AsyncConnection) -> _Target:
        assert conn.sync_connection is not None
        return cls(conn.dialect, conn.sync_connection.connection.dbapi_connection, conn,
                   conn.sync_connection.get_execution_options())

    def usable(self) -> bool:
        owner = self.owner
        alive = not (owner.closed or owner.invalidated) if isinstance(owner, AsyncConnection) else owner.is_valid
        return alive and not self.invalidated and bool(getattr(self.adapted, "autocommit", False)) \
            and not self.options.get("schema_translate_map")

    async def invalidate(self, error: BaseException) -> None:
        self.invalidated = True
        if isinstance(self.owner, AsyncConnection):
            await self.owner.invalidate(error)
        else:
            self.owner.invalidate(error)


def in_autocommit(session: AsyncSession) -> bool:
    """Whether the session is in an `autocommit` block (`run_direct` runs there)."""
    return isinstance(session.info.get(_DIRECT_TARGET), _Target)


async def run_direct(session: AsyncSession, statement: sa.ClauseElement, params: Mapping[str, Any]) -> list[Any]:
    """Run a Core statement (built once: a module's constant) on the session's connection by the asyncpg
    driver itself, compiled once, its rows as named tuples: none of SQLAlchemy's per-execution work (cache key,
    parameters, execution context, result), about 150 µs of CPU for a one-row read and 300 µs for the order's
    statement (issue 16). In `autocommit` only: there is no transaction SQLAlchemy would begin first. Errors are
    SQLAlchemy's (`IntegrityError`, a dropped connection invalidated), as `session.execute` raises them."""
    target = session.info.get(_DIRECT_TARGET)
    if not isinstance(target, _Target) or not target.usable():
        raise RuntimeError("run_direct runs in backbone.db.autocommit only, on an engine without a schema translation")
    adapted, dialect = target.adapted, target.dialect
    direct = _direct(statement, dialect)
    try:
        records = await adapted.driver_connection.fetch(direct.sql, *direct.args(params))
    except Exception as error:
        dbapi = dialect.loaded_dbapi
        try:
            adapted._handle_exception(error)  # the driver's error as the DBAPI's (SQLAlchemy's asyncpg adapter)
        except dbapi.Error as dbapi_error:
            invalidated = dialect.is_disconnect(dbapi_error, adapted, None)
            if invalidated:
                await target.invalidate(dbapi_error)
            raise sa.exc.DBAPIError.instance(direct.sql, None, dbapi_error, dbapi.Error, hide_parameters=True,
                                             connection_invalidated=invalidated, dialect=dialect) from error
        raise
    return direct.rows(records)


def make_session_factory(
    engine: AsyncEngine, *, outbox: sa.Table | None = None, source: str | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions of one service. With `outbox` and `source`, `backbone.outbox.emit` writes there as that service."""
    info: dict[str, object] = {}
    if outbox is not None:
        info[OUTBOX_BINDING] = OutboxBinding(outbox, source or outbox.schema or "unknown")
    return async_sessionmaker(engine, expire_on_commit=False, info=info)


# --- column kinds shared by every service's tables ---------------------------------------------------

#: An id made by `backbone.ids.new_id` ("ord_0190f3c2a1b4_9f2c4d1e"). Ids travel between services (a CRM
#: customer id in an EOMS ticket, a ticket id in an SLA timer), so every table stores them alike.
Id = sa.String(40)

#: The suite's shared words (`backbone.vocabulary`) travel in events and several services store them: each
#: is one column kind, so no service keeps a column narrower than the values another one sends.
ProductCode = sa.String(40)  # a `ProductId`
BusinessTypeCode = sa.String(80)  # `<product>.<kind>` (`business_type`), the key of a workflow
TicketKindCode = sa.String(40)  # a `TicketKind`
TierCode = sa.String(1)  # a `Tier`: A, B or C
NodeName = sa.String(80)  # a node of an EOMS workflow (the SLA times it, the CRM shows it)

#: Every instant the suite stores is a `timestamptz`.
TimestampTz = sa.DateTime(timezone=True)


def timestamp(name: str, *, nullable: bool = False, default_now: bool = False) -> sa.Column[datetime]:
    """A `timestamptz` column; with `default_now`, the database fills it with now() at insert."""
    return sa.Column(name, TimestampTz, nullable=nullable, server_default=sa.func.now() if default_now else None)


def timestamps() -> tuple[sa.Column[datetime], sa.Column[datetime]]:
    """`created_at` and `updated_at`, both now() at insert (the service moves `updated_at` on)."""
    return timestamp("created_at", default_now=True), timestamp("updated_at", default_now=True)


# --- the tables of the delivery guarantee ------------------------------------------------------------


def outbox_table(metadata: sa.MetaData) -> sa.Table:
    """Events waiting for the relay. `seq` gives the publish order (per aggregate it is commit order)."""
    return sa.Table(
        "outbox",
        metadata,
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        timestamp("created_at", default_now=True),
        timestamp("sent_at", nullable=True),
        sa.Index(f"ix_{metadata.schema}_outbox_unsent", "seq", postgresql_where=sa.text("sent_at IS NULL")),
    )


def inbox_table(metadata: sa.MetaData) -> sa.Table:
    """Events already applied, by consumer group: the idempotency record of the consumer side."""
    return sa.Table(
        "inbox",
        metadata,
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        timestamp("received_at", default_now=True),
    )


def event_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """The outbox and the inbox of a service's schema: every service runtime has both (`backbone.runtime.Infra`)."""
    return outbox_table(metadata), inbox_table(metadata)


def idempotency_table(metadata: sa.MetaData) -> sa.Table:
    """Replies to POSTs that carried an Idempotency-Key, stored in the transaction of the effect."""
    return sa.Table(
        "idempotency_keys",
        metadata,
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("principal", sa.String(200), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.BigInteger, nullable=False),
        sa.Column("response", JSONB, nullable=False),
        timestamp("created_at", default_now=True),
    )


__all__ = [
    "BusinessTypeCode",
    "Id",
    "NodeName",
    "ProductCode",
    "TicketKindCode",
    "TierCode",
    "TimestampTz",
    "autocommit",
    "event_tables",
    "idempotency_table",
    "inbox_table",
    "make_engine",
    "make_session_factory",
    "outbox_table",
    "row_type",
    "run_direct",
    "timestamp",
    "timestamps",
]
