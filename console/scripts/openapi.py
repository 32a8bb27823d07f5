"""Write (or check) the OpenAPI snapshots the console's API types are generated from.

    cd /work/main && .venv/bin/python console/scripts/openapi.py          # rewrite console/openapi/*.json
    cd /work/main && .venv/bin/python console/scripts/openapi.py --check  # exit 1 if a snapshot is stale

Each service app is imported and asked for its document (no server, database or Kafka needed).
`npm run openapi` (console/scripts/openapi.mjs) turns the snapshots into TypeScript types; the
typecheck, tests and build run it first, so a contract change breaks the console's build.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "console" / "openapi"
SERVICES = {"crm": "crm.main", "eoms": "eoms_bridge.main", "sla": "sla.main", "notify": "notify.main",
            "stats": "stats.main"}


def document(module: str) -> str:
    app = importlib.import_module(module).build_app()
    return json.dumps(app.openapi(), ensure_ascii=False, indent=2) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("services", nargs="*", default=list(SERVICES), help="crm eoms sla notify stats (default: all)")
    args = parser.parse_args()
    # ENVIRONMENT has no default (backbone.settings); the documents are those of a local/test service.
    os.environ.setdefault("ENVIRONMENT", "test")
    sys.path[:0] = [str(ROOT / p) for p in
                    ("shared", "services/crm", "services/eoms-bridge", "services/sla", "services/notify",
                     "services/stats")]
    stale = []
    for name in args.services:
        text = document(SERVICES[name])
        path = OUT / f"{name}.json"
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"stale snapshot(s): {', '.join(stale)}; run console/scripts/openapi.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
