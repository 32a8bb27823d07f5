"""The current directory: the newest version stored in the DB (so all instances agree), else the seed file."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.problems import Problem
from notify.domain.directory import Directory, load_directory
from notify.models import directory_versions

_NEWEST = select(directory_versions.c.version).order_by(directory_versions.c.version.desc()).limit(1)
_CONTENT = select(directory_versions.c.content).where(directory_versions.c.version == bindparam("v"))
_SESSION_KEY = "notify.directory"


class DirectoryCache:
    """Per process: re-reads the stored directory only when its version number changed."""

    def __init__(self, seed_file: str | None = None) -> None:
        self.seed = load_directory(seed_file)
        self._version: int | None = None
        self._directory: Directory = self.seed

    async def current(self, session: AsyncSession) -> tuple[int | None, Directory]:
        """The newest version, asked once per transaction (a consumer run of many events shares it)."""
        transaction = session.sync_session.get_transaction()
        cached = session.info.get(_SESSION_KEY)
        if cached is not None and transaction is not None and cached[0] is transaction:
            return cached[1]  # type: ignore[no-any-return]
        version = (await session.execute(_NEWEST)).scalar()
        result: tuple[int | None, Directory]
        if version is None:
            result = (None, self.seed)
        else:
            if version != self._version:
                content = (await session.execute(_CONTENT, {"v": version})).scalar_one()
                self._directory = Directory.model_validate(content)
                self._version = version
            result = (self._version, self._directory)
        if transaction is not None:
            session.info[_SESSION_KEY] = (transaction, result)
        return result


def validate_directory(content: dict[str, Any]) -> Directory:
    """A 422 naming each wrong field, or the directory."""
    try:
        return Directory.model_validate(content)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or "directory", "message": e["msg"]} for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        raise Problem(422, "Invalid directory", detail, errors=errors) from exc


async def store_directory(session: AsyncSession, *, content: dict[str, Any], actor: str) -> tuple[int, Directory]:
    directory = validate_directory(content)
    version = (
        await session.execute(
            insert(directory_versions)
            .values(content=directory.model_dump(mode="json"), created_by=actor)
            .returning(directory_versions.c.version)
        )
    ).scalar_one()
    return int(version), directory
