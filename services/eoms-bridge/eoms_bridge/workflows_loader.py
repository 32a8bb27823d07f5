"""Reads the workflow catalog from files (I/O, outside the pure domain).

Every ``*.yaml`` / ``*.yml`` / ``*.json`` file under a folder (default: the catalog shipped in
``eoms_bridge/workflows/``) is parsed and validated; every problem of every file is reported at
once. The bootstrap loads the catalog this way, so a broken file stops the start.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml

from eoms_bridge.domain.errors import WorkflowDefinitionError
from eoms_bridge.domain.workflow import WorkflowCatalog, parse_workflow

__all__ = ["DEFAULT_WORKFLOW_DIR", "load_catalog"]

DEFAULT_WORKFLOW_DIR: Final[Path] = Path(__file__).resolve().parent / "workflows"


def _documents(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        raw: Any = json.loads(text)
        docs = raw if isinstance(raw, list) else [raw]
    else:
        docs = []
        for doc in yaml.safe_load_all(text):
            if doc is None:
                continue
            if isinstance(doc, Mapping) and "workflows" in doc and "id" not in doc:
                docs.extend(doc["workflows"])
            elif isinstance(doc, list):
                docs.extend(doc)
            else:
                docs.append(doc)
    return docs


def load_catalog(directory: Path | str | None = None) -> WorkflowCatalog:
    """Load and validate every ``*.yaml`` / ``*.yml`` / ``*.json`` file under ``directory``.

    A file holds one workflow, several YAML documents, a list, or ``{workflows: [...]}``.
    All problems of all files are collected and raised together as
    :class:`WorkflowDefinitionError`.
    """
    root = Path(directory) if directory is not None else DEFAULT_WORKFLOW_DIR
    if not root.is_dir():
        raise WorkflowDefinitionError(f"{root}: workflow directory not found")
    files = sorted(p for p in root.rglob("*") if p.suffix in {".yaml", ".yml", ".json"})
    catalog = WorkflowCatalog()
    problems: list[str] = []
    for path in files:
        try:
            docs = _documents(path)
        except (yaml.YAMLError, json.JSONDecodeError) as err:
            problems.append(f"{path.name}: cannot parse: {err}")
            continue
        for i, doc in enumerate(docs):
            source = path.name if len(docs) == 1 else f"{path.name}[{i}]"
            try:
                catalog.add(parse_workflow(doc, source))
            except WorkflowDefinitionError as err:
                problems.append(str(err))
    if problems:
        raise WorkflowDefinitionError("\n".join(problems), problems)
    return catalog
