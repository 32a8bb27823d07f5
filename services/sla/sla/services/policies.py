"""Policy versions in the database: load (validate + lint + store), activate, list, and resolve.

Every way in (the admin API, the file seeded at start) validates the set and lints it against the
workflow catalog (`sla.domain.lint.check`): a rule that can never win for any node is refused. Stored
versions are never linted again when they are read back (a running timer's version must always
rebuild, whatever the catalog says today).

A version is immutable once stored: loading the same version again with the same content is a
no-op, with different content a conflict. Timers keep `(policy_version, rule_id)`, so a running
timer is rebuilt from exactly the rule it started with, whatever is active now. Parsed policy
sets are kept in-process by version (`PolicyCatalog`, one per process, built by the bootstrap;
safe because versions never change); the *active* version is read from the database once per
transaction that starts timers, so every instance starts new timers under the same version as
soon as an activation commits.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backbone.versioned import once_per_transaction
from backbone.vocabulary import Tier
from sla.domain import lint
from sla.domain.catalog import NodeCatalog
from sla.domain.errors import PolicyError, UnknownVersion, VersionConflict
from sla.domain.policy import PolicySet, ResolvedPolicy, parse_policy_set, resolve, snapshot
from sla.models import policy_versions

log = logging.getLogger("sla.policies")

_ACTIVATE_LOCK = zlib.crc32(b"sla-policy-activate")
_ACTIVE_VERSION = "sla.active_version"
ACTIVE = "active"  # names the active version in the reads that take a version

__all__ = ["LoadResult", "PolicyCatalog", "UnknownVersion", "VersionConflict", "activate_version", "active_version",
           "active_version_for_txn", "load", "parse_text", "policy_set_named", "seed_from_file", "validate"]


@dataclass(frozen=True)
class LoadResult:
    version: str
    created: bool
    active: bool


def canonical(data: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """JSON-safe body (dates as ISO strings) and its sha256."""
    body = json.loads(json.dumps(data, default=str, sort_keys=True))
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return body, digest


def parse_text(text: str) -> dict[str, Any]:
    """YAML (or JSON, a subset) policy text → raw mapping, or PolicyError."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"not valid YAML/JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError("a policy set must be a mapping")
    return data


def validate(data: Mapping[str, Any], workflows: NodeCatalog) -> tuple[PolicySet, lint.LintReport]:
    """Parse and lint a policy set: InvalidPolicySet, or PolicyLintError naming each rule that can
    never win for any node of ``workflows`` (and the rule that shadows it)."""
    ps = parse_policy_set(data)
    return ps, lint.check(ps, workflows)


async def load(
    session: AsyncSession, data: Mapping[str, Any], *, source: str, loaded_by: str, activate: bool,
    workflows: NodeCatalog,
) -> LoadResult:
    """Validate, lint and store a policy set (raises InvalidPolicySet / PolicyLintError / VersionConflict)."""
    ps, _ = validate(data, workflows)
    body, digest = canonical(data)
    row = (await session.execute(
        select(policy_versions.c.checksum, policy_versions.c.active).where(policy_versions.c.version == ps.version)
    )).first()
    if row is not None and row.checksum != digest:
        raise VersionConflict(f"policy version {ps.version!r} is already loaded with a different content; "
                              "give the new content a new version")
    created = row is None
    if created:
        await session.execute(insert(policy_versions).values(
            version=ps.version, body=body, checksum=digest, source=source[:300], loaded_by=loaded_by,
        ).on_conflict_do_nothing())
    active = bool(row and row.active)
    if activate and not active:
        await activate_version(session, ps.version)
        active = True
    return LoadResult(ps.version, created, active)


async def activate_version(session: AsyncSession, version: str) -> None:
    # Serialise activations (two instances seeding at once): one active row at a time.
    await session.execute(select(func.pg_advisory_xact_lock(_ACTIVATE_LOCK)))
    exists = (await session.execute(
        select(policy_versions.c.version).where(policy_versions.c.version == version).with_for_update()
    )).first()
    if exists is None:
        raise UnknownVersion(version)
    # Deactivate first: the partial unique index allows one active row at any moment.
    await session.execute(update(policy_versions).where(policy_versions.c.active).values(active=False))
    await session.execute(update(policy_versions).where(policy_versions.c.version == version)
                          .values(active=True, activated_at=datetime.now(UTC)))
    log.info("policy version %s activated", version)


async def seed_from_file(session: AsyncSession, path: Path, workflows: NodeCatalog) -> LoadResult:
    """At start: store the file's version if new, and activate it if it is new or nothing is active.

    A version already known is left as it is, so a restart never undoes an admin's activation. A file
    that fails validation or the lint raises (the service does not start).
    """
    data = parse_text(await asyncio.to_thread(path.read_text, encoding="utf-8"))
    ps, _ = validate(data, workflows)
    known = (await session.execute(
        select(policy_versions.c.version).where(policy_versions.c.version == ps.version)
    )).first() is not None
    nothing_active = await active_version(session) is None
    return await load(session, data, source=f"file:{path}", loaded_by="startup",
                      activate=not known or nothing_active, workflows=workflows)


async def active_version(session: AsyncSession) -> str | None:
    return (await session.execute(
        select(policy_versions.c.version).where(policy_versions.c.active)
    )).scalar_one_or_none()


async def policy_set_named(session: AsyncSession, catalog: PolicyCatalog, version: str) -> PolicySet:
    """A loaded version's policy set; ``"active"`` names the active version (UnknownVersion: 404)."""
    if version == ACTIVE:
        active = await active_version(session)
        if active is None:
            raise UnknownVersion(ACTIVE)
        version = active
    return await catalog.policy_set(session, version)


async def active_version_for_txn(session: AsyncSession) -> str | None:
    """The active version, read once per transaction (backbone's consumer applies a run of events in
    one transaction: they all start their timers under the same version; the next transaction of
    the same session asks again)."""
    return await once_per_transaction(session, _ACTIVE_VERSION, lambda: active_version(session))


class PolicyCatalog:
    """Parsed policy versions, by version, for this process (versions are immutable, so nothing
    here goes stale): the policy set, the winning rule per match keys, the snapshot per rule."""

    MAX_WINNERS = 100_000  # bounded: versions × workflow nodes × tiers × roles is small

    def __init__(self) -> None:
        self._sets: dict[str, PolicySet] = {}
        self._snapshots: dict[tuple[str, str], ResolvedPolicy] = {}
        self._winners: dict[tuple[str, ...], str] = {}  # (version, business_type, kind, node, tier, role) → rule

    async def policy_set(self, session: AsyncSession, version: str) -> PolicySet:
        ps = self._sets.get(version)
        if ps is None:
            body = (await session.execute(
                select(policy_versions.c.body).where(policy_versions.c.version == version)
            )).scalar_one_or_none()
            if body is None:
                raise UnknownVersion(version)
            ps = self._sets[version] = parse_policy_set(body)
        return ps

    async def rule_for(self, session: AsyncSession, version: str, business_type: str, ticket_kind: str, node: str,
                       tier: Tier, role: str) -> str:
        """Id of the winning rule (raises NoMatchingPolicy), memoised: the keys repeat a lot."""
        key = (version, business_type, ticket_kind, node, tier, role)
        rule_id = self._winners.get(key)
        if rule_id is None:
            ps = await self.policy_set(session, version)
            rule_id = resolve(ps, business_type, ticket_kind, node, tier, role).rule_id
            if len(self._winners) > self.MAX_WINNERS:
                self._winners.clear()
            self._winners[key] = rule_id
        return rule_id

    async def resolved(self, session: AsyncSession, version: str, rule_id: str) -> ResolvedPolicy:
        """The snapshot a timer started under `(version, rule_id)` keeps."""
        key = (version, rule_id)
        rp = self._snapshots.get(key)
        if rp is None:
            rp = self._snapshots[key] = snapshot(await self.policy_set(session, version), rule_id)
        return rp
