"""Async SQLAlchemy engine and session factory; the outbox and inbox tables each service owns."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from backbone.outbox import OUTBOX_BINDING, OutboxBinding


def make_engine(url: str, *, pool_size: int = 10, schema: str | None = None) -> AsyncEngine:
    connect_args: dict[str, object] = {}
    if schema:
        # Each service lives in its own schema; unqualified names resolve there first.
        connect_args["server_settings"] = {"search_path": f"{schema},public"}
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False, connect_args=connect_args
    )


def make_session_factory(
    engine: AsyncEngine, *, outbox: Table | None = None, source: str | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions of one service. With `outbox` and `source`, `backbone.outbox.emit` writes there as that service."""
    info: dict[str, object] = {}
    if outbox is not None:
        info[OUTBOX_BINDING] = OutboxBinding(outbox, source or outbox.schema or "unknown")
    return async_sessionmaker(engine, expire_on_commit=False, info=info)


def outbox_table(metadata: MetaData) -> Table:
    """Events waiting for the relay. `seq` gives the publish order (per aggregate it is commit order)."""
    return Table(
        "outbox",
        metadata,
        Column("seq", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("event_type", String(200), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sent_at", DateTime(timezone=True), nullable=True),
        Index(f"ix_{metadata.schema}_outbox_unsent", "seq", postgresql_where=text("sent_at IS NULL")),
    )


def inbox_table(metadata: MetaData) -> Table:
    """Events already applied, by consumer group: the idempotency record of the consumer side."""
    return Table(
        "inbox",
        metadata,
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("consumer", String(100), primary_key=True),
        Column("event_type", String(200), nullable=False),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def idempotency_table(metadata: MetaData) -> Table:
    """Replies to POSTs that carried an Idempotency-Key, stored in the transaction of the effect."""
    return Table(
        "idempotency_keys",
        metadata,
        Column("key", String(200), primary_key=True),
        Column("principal", String(200), primary_key=True),
        Column("request_hash", String(64), nullable=False),
        Column("status_code", BigInteger, nullable=False),
        Column("response", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


__all__ = ["Text", "idempotency_table", "inbox_table", "make_engine", "make_session_factory", "outbox_table"]
