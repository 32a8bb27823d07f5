"""Alembic per service, each in its own PostgreSQL schema.

A service keeps `migrations/` (env.py calling `run_migrations(metadata)`, and its versions) beside
its package; `upgrade_head(service_dir, url)` brings a database up to date from code or the CLI:
`python -m backbone.migrations services/crm`.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def run_migrations(metadata: MetaData) -> None:
    """Body of a service's migrations/env.py (online mode only: we always have a database)."""
    from alembic import context

    schema = metadata.schema
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set by upgrade_head()"

    def do_run(connection: Connection) -> None:
        _become_schema_owner(connection, schema)
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=lambda name, type_, parent: type_ != "schema" or name == schema,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool, hide_parameters=True)
        async with engine.begin() as conn:
            # Two services starting together must not race on the same schema's migrations.
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": f"migrate:{schema}"})
            await conn.run_sync(do_run)
        await engine.dispose()

    asyncio.run(main())


def _become_schema_owner(connection: Connection, schema: str | None) -> None:
    """Create the schema if it is missing; if another role owns it (deploy/: one role per service, created
    with its schema by deploy/postgres/init-roles.sql), act as that role for the rest of the transaction, so
    the migration role's tables belong to the service's role and the services need no more than their own
    schema. A role the connected one cannot become is an error that says so."""
    found = connection.execute(text(
        "SELECT n.nspowner::regrole::text, pg_has_role(n.nspowner, 'MEMBER'), n.nspowner = r.oid "
        "FROM pg_namespace n, pg_roles r WHERE n.nspname = :s AND r.rolname = current_user"), {"s": schema}).first()
    if found is None:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        return
    owner, member, mine = found
    if mine:
        return
    if not member:
        raise PermissionError(f"schema {schema} belongs to {owner}, which the migration role cannot become "
                              f"(GRANT {owner} TO <migration role> WITH SET TRUE)")
    connection.execute(text(f"SET LOCAL ROLE {owner}"))  # regrole::text is a quoted identifier already


def _config(service_dir: Path, url: str) -> object:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(service_dir / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade_head(service_dir: Path | str, url: str) -> None:
    """Run in a worker thread when called from async code: env.py owns its own event loop."""
    from alembic import command

    command.upgrade(_config(Path(service_dir), url), "head")  # type: ignore[arg-type]


def autogenerate(service_dir: Path | str, url: str, message: str) -> None:
    from alembic import command

    command.revision(_config(Path(service_dir), url), message=message, autogenerate=True)  # type: ignore[arg-type]


if __name__ == "__main__":
    import os

    db = os.environ["DATABASE_URL"]
    if len(sys.argv) > 3 and sys.argv[2] == "revision":
        autogenerate(sys.argv[1], db, sys.argv[3])
    else:
        upgrade_head(sys.argv[1], db)
