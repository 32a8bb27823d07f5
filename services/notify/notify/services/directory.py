"""The current directory: the newest version stored in the DB (so all instances agree), else the seed file."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.errors import Invalid
from backbone.versioned import VersionedCache, once_per_transaction
from notify.domain.directory import Directory, load_directory
from notify.models import directory_versions

_NEWEST = select(directory_versions.c.version).order_by(directory_versions.c.version.desc()).limit(1)
_CONTENT = select(directory_versions.c.content).where(directory_versions.c.version == bindparam("v"))
_MEMO_KEY = "notify.directory"


class InvalidDirectory(Invalid):
    """A directory that does not validate: `errors` names each wrong field / dangling reference."""

    title = "Invalid directory"
    code = "invalid_directory"


class DirectoryCache:
    """Per process: re-reads the stored directory only when its version number changed."""

    def __init__(self, seed_file: str | None = None) -> None:
        self.seed = load_directory(seed_file)
        self._parsed: VersionedCache[Directory] = VersionedCache(Directory.model_validate)

    async def current(self, session: AsyncSession) -> tuple[int | None, Directory]:
        """The newest version, asked once per transaction (a consumer run of many events shares it)."""

        async def newest() -> tuple[int | None, Directory]:
            version = (await session.execute(_NEWEST)).scalar()
            if version is None:
                return None, self.seed

            async def content() -> Any:
                return (await session.execute(_CONTENT, {"v": version})).scalar_one()

            return int(version), await self._parsed.get(int(version), content)

        return await once_per_transaction(session, _MEMO_KEY, newest)


def validate_directory(content: dict[str, Any]) -> Directory:
    """The directory, or an `InvalidDirectory` naming each wrong field."""
    try:
        return Directory.model_validate(content)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or "directory", "message": e["msg"]} for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        raise InvalidDirectory(detail, errors=errors) from exc


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
