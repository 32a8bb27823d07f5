"""Workflow definitions persisted in `workflow_definitions`, so every instance agrees.

The YAML catalog is validated when the process is bootstrapped (a broken file stops the start) and
synced into the table by a start hook, before any event or request. ``latest`` asks the table (a
definition published through the admin API on another instance is seen at once); definitions are
immutable per (id, version), so they are cached in memory once read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, literal, select, true
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backbone.versioned import transaction_memo
from eoms_bridge.domain.errors import WorkflowConflictError, WorkflowDefinitionError, WorkflowNotFoundError
from eoms_bridge.domain.workflow import WorkflowCatalog, WorkflowDefinition, parse_workflow
from eoms_bridge.models import workflow_definitions as wd

log = logging.getLogger("eoms_bridge.workflows")


def _as_data(d: WorkflowDefinition) -> dict[str, Any]:
    return d.model_dump(mode="json", exclude_none=True)


def _latest_of_transaction(session: AsyncSession) -> dict[str, tuple[str, int]]:
    """business type → (id, version) of its latest workflow, as read in the session's current transaction."""
    if session.sync_session.get_transaction() is None:
        return {}  # not in a transaction yet: nothing to share the answer with
    return transaction_memo(session, "eoms.latest_workflows")


# The database clock and the latest version of each of several business types, in one read (`now_and_latest`).
_LATEST = (select(wd.c.business_type, wd.c.id, wd.c.version)
           .where(wd.c.business_type == func.any(bindparam("business_types", type_=ARRAY(wd.c.business_type.type))))
           .order_by(wd.c.business_type, wd.c.version.desc()).distinct(wd.c.business_type).subquery("latest"))
_ONE = select(literal(1).label("one")).subquery("one")
_NOW_AND_LATEST = (select(func.clock_timestamp().label("now"), _LATEST.c.business_type, _LATEST.c.id,
                          _LATEST.c.version)
                   .select_from(_ONE.outerjoin(_LATEST, true())))


class WorkflowStore:
    def __init__(self, catalog: WorkflowCatalog) -> None:
        self.shipped = catalog  # the YAML catalog, validated at construction
        self._cache: dict[tuple[str, int], WorkflowDefinition] = {(d.id, d.version): d for d in catalog}

    async def sync(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        """Insert the shipped definitions that the table lacks and read every stored one (idempotent;
        safe on many instances). Runs once, at start (a `runtime.on_start` hook)."""
        async with session_factory() as session, session.begin():
            for d in self.shipped:
                await session.execute(
                    insert(wd).values(id=d.id, version=d.version, business_type=d.business_type,
                                      definition=_as_data(d), source="catalog")
                    .on_conflict_do_nothing()
                )
            rows = (await session.execute(select(wd.c.id, wd.c.version, wd.c.definition))).all()
        for r in rows:
            d = parse_workflow(r.definition, f"{r.id} v{r.version}")
            shipped = self._cache.get((r.id, r.version))
            if shipped is not None and shipped != d:
                # The table is the shared truth; a changed YAML must be published as a new version.
                log.warning("workflow %s v%s in the table differs from the shipped YAML; the table wins",
                            r.id, r.version)
            self._cache[(r.id, r.version)] = d

    async def get(self, session: AsyncSession, id: str, version: int) -> WorkflowDefinition:
        d = self._cache.get((id, version))
        if d is not None:
            return d
        raw = (await session.execute(
            select(wd.c.definition).where(wd.c.id == id, wd.c.version == version))).scalar()
        if raw is None:
            raise WorkflowNotFoundError(f"no workflow {id!r} version {version}")
        d = parse_workflow(raw, f"{id} v{version}")
        self._cache[(id, version)] = d
        return d

    async def latest(self, session: AsyncSession, business_type: str) -> WorkflowDefinition:
        """The latest version as the table has it, asked once per transaction and business type (a
        consumer applies a run of events in one transaction: they all open on the same version)."""
        memo = _latest_of_transaction(session)
        key = memo.get(business_type)
        if key is None:
            row = (await session.execute(
                select(wd.c.id, wd.c.version).where(wd.c.business_type == business_type)
                .order_by(wd.c.version.desc()).limit(1)
            )).first()
            if row is None:
                raise WorkflowNotFoundError(f"no workflow for business type {business_type!r}")
            key = memo[business_type] = (row.id, row.version)
        return await self.get(session, *key)

    async def now_and_latest(self, session: AsyncSession, business_types: Iterable[str]) -> datetime:
        """The database's clock (`backbone.db.db_now`'s) and the latest version of each business type in one
        read, the versions kept for the transaction as `latest` keeps them: a consumer's run of orders reads
        both once (two statements before, issue 16). A business type without a workflow is left to `latest`."""
        rows = (await session.execute(_NOW_AND_LATEST, {"business_types": sorted(set(business_types))})).all()
        memo = _latest_of_transaction(session)
        for row in rows:
            if row.business_type is not None:
                memo.setdefault(row.business_type, (row.id, row.version))
        now: datetime = rows[0].now
        return now.astimezone(UTC)

    async def list(self, session: AsyncSession, business_type: str | None = None) -> list[dict[str, Any]]:
        q = select(wd.c.id, wd.c.version, wd.c.business_type, wd.c.source, wd.c.created_at, wd.c.definition)
        if business_type:
            q = q.where(wd.c.business_type == business_type)
        rows = (await session.execute(q.order_by(wd.c.id, wd.c.version))).all()
        latest: dict[str, int] = {}
        for r in rows:
            latest[r.id] = max(latest.get(r.id, 0), r.version)
        return [{**r._mapping, "latest": latest[r.id] == r.version} for r in rows]

    async def publish(self, session: AsyncSession, raw: Mapping[str, Any], *, source: str) -> WorkflowDefinition:
        """Validate ``raw`` and store it as the next version of its id.

        ``version`` may be omitted (next one is assigned) or must be exactly the next one.
        Raises WorkflowDefinitionError (422) or WorkflowConflictError (409).
        """
        data = dict(raw)
        wid = data.get("id")
        current = None
        if isinstance(wid, str):
            current = (await session.execute(select(func.max(wd.c.version)).where(wd.c.id == wid))).scalar()
        nxt = (current or 0) + 1
        if data.get("version") is None:
            data["version"] = nxt
        d = parse_workflow(data, "admin API")
        if d.version != nxt:
            raise WorkflowConflictError(f"{d.label}: the next version of {d.id!r} is {nxt}")
        # Catalog rules (one id per business type, business type fixed per id) over what is stored.
        catalog = WorkflowCatalog()
        rows = (await session.execute(
            select(wd.c.id, wd.c.version, wd.c.definition)
            .where((wd.c.id == d.id) | (wd.c.business_type == d.business_type))
        )).all()
        try:
            for r in rows:
                catalog.add(await self.get(session, r.id, r.version))
            catalog.add(d)
        except WorkflowDefinitionError as err:
            raise WorkflowConflictError(str(err)) from None
        try:
            async with session.begin_nested():
                await session.execute(wd.insert().values(
                    id=d.id, version=d.version, business_type=d.business_type, definition=_as_data(d), source=source))
        except IntegrityError:
            raise WorkflowConflictError(f"{d.label} was published concurrently; retry") from None
        self._cache[(d.id, d.version)] = d
        _latest_of_transaction(session).pop(d.business_type, None)
        return d


async def first_latest(session: AsyncSession, store: WorkflowStore, business_types: list[str], *,
                       what: str) -> WorkflowDefinition:
    """The latest workflow of the first of `business_types` that has one, the last being the fallback that
    must (a complaint's product-specific type, then the generic one); each type skipped is logged for `what`."""
    for business_type in business_types[:-1]:
        try:
            return await store.latest(session, business_type)
        except WorkflowNotFoundError:
            log.warning("%s: no workflow for %s, it goes to %s", what, business_type, business_types[-1])
    return await store.latest(session, business_types[-1])
