"""Reads the SLA's copy of the workflow catalog from files (I/O, outside the pure domain).

`catalog/workflows.yaml` beside this module is generated from the EOMS bridge's workflow files
(`python -m devtools.sla_catalog`); `SLA_WORKFLOW_CATALOG` points elsewhere, and
`SLA_WORKFLOW_CATALOG_EXTRA` adds files of workflows that exist only in one environment (the
tests' `slatest` product). The bootstrap loads them once: a broken file stops the start.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Final

import yaml

from sla.domain.catalog import NodeCatalog, parse_catalog
from sla.domain.errors import PolicyError

DEFAULT_CATALOG_PATH: Final[Path] = Path(__file__).resolve().parent / "catalog" / "workflows.yaml"


def load_node_catalog(path: Path = DEFAULT_CATALOG_PATH, extra: Iterable[Path] = ()) -> NodeCatalog:
    """The catalog in ``path``, merged with each ``extra`` file (a business type twice is an error)."""
    catalog = NodeCatalog()
    for p in (path, *extra):
        try:
            data = yaml.safe_load(Path(p).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise PolicyError(f"{p}: cannot read the workflow catalog: {exc}") from exc
        if not isinstance(data, dict):
            raise PolicyError(f"{p}: a workflow catalog must be a mapping with `workflows`")
        catalog = catalog.merged(parse_catalog(data, source=str(p)))
    return catalog


__all__ = ["DEFAULT_CATALOG_PATH", "load_node_catalog"]
