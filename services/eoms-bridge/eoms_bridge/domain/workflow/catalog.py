"""All versions of all workflow definitions, with the catalog's rules: one workflow id per
business type, a business type fixed per id, and an (id, version) never redefined."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from eoms_bridge.domain.errors import WorkflowDefinitionError, WorkflowNotFoundError
from eoms_bridge.domain.workflow.definition import WorkflowDefinition

__all__ = ["WorkflowCatalog"]


class WorkflowCatalog:
    """All versions of all workflow definitions.

    ``latest`` serves new orders; ``get(id, version)`` serves running tickets, which keep the
    version they started on.
    """

    def __init__(self, definitions: Iterable[WorkflowDefinition] = ()) -> None:
        self._by_key: dict[tuple[str, int], WorkflowDefinition] = {}
        self._type_of_id: dict[str, str] = {}
        self._ids_of_type: dict[str, set[str]] = {}
        for d in definitions:
            self.add(d)

    def add(self, definition: WorkflowDefinition) -> None:
        """Register a definition; re-adding an identical (id, version) is a no-op."""
        key = (definition.id, definition.version)
        existing = self._by_key.get(key)
        if existing is not None:
            if existing == definition:
                return
            raise WorkflowDefinitionError(
                f"{definition.label}: a different definition with this id and version is "
                "already loaded; publish a new version instead"
            )
        known_type = self._type_of_id.get(definition.id)
        if known_type is not None and known_type != definition.business_type:
            raise WorkflowDefinitionError(
                f"{definition.label}: business_type {definition.business_type!r} differs from "
                f"{known_type!r} of earlier versions"
            )
        others = self._ids_of_type.get(definition.business_type, set()) - {definition.id}
        if others:
            raise WorkflowDefinitionError(
                f"{definition.label}: business_type {definition.business_type!r} is already "
                f"served by workflow {sorted(others)[0]!r}"
            )
        self._by_key[key] = definition
        self._type_of_id[definition.id] = definition.business_type
        self._ids_of_type.setdefault(definition.business_type, set()).add(definition.id)

    def latest(self, business_type: str) -> WorkflowDefinition:
        ids = self._ids_of_type.get(business_type)
        if not ids:
            raise WorkflowNotFoundError(f"no workflow for business type {business_type!r}")
        (wid,) = ids
        return self.get(wid, max(self.versions(wid)))

    def get(self, id: str, version: int) -> WorkflowDefinition:
        try:
            return self._by_key[(id, version)]
        except KeyError:
            raise WorkflowNotFoundError(f"no workflow {id!r} version {version}") from None

    def versions(self, id: str) -> list[int]:
        return sorted(v for (i, v) in self._by_key if i == id)

    def business_types(self) -> list[str]:
        return sorted(self._ids_of_type)

    def all_latest(self) -> list[WorkflowDefinition]:
        return [self.latest(bt) for bt in self.business_types()]

    def __iter__(self) -> Iterator[WorkflowDefinition]:
        return iter(sorted(self._by_key.values(), key=lambda d: (d.id, d.version)))

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key
