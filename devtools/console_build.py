"""Builds the ops console (console/) once, and again only when something it is built from changed.

- `npm ci` runs when `console/node_modules` is missing or was installed from another
  `package-lock.json` (its SHA-256 is kept in `console/node_modules/.gs-lockfile.sha256`, so the
  stamp goes away with the folder it describes).
- `npm run build` runs when `console/dist` is missing or was built from other inputs: the SHA-256 of
  every source file (src/ without the generated API types, public/, index.html, the configs, the
  OpenAPI snapshots, the lockfile) is kept in `console/dist/.gs-build.sha256`. A content hash, not
  file times: a `git checkout` of older files rebuilds too, and touching a file does not.

`make run` (devtools.suite) and `make test` (the `console` target) call `ensure_built()`;
`python -m devtools.console_build [--force]` does the same by hand.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from devtools.infra import PROJECT_ROOT

CONSOLE = PROJECT_ROOT / "console"
DIST = CONSOLE / "dist"
NODE_MODULES = CONSOLE / "node_modules"
LOCK_STAMP = NODE_MODULES / ".gs-lockfile.sha256"
BUILD_STAMP = DIST / ".gs-build.sha256"
#: What the bundle is built from (relative to console/); src/api/generated is an output of the build.
BUILD_INPUTS = ("src", "public", "openapi", "scripts/openapi.mjs", "index.html", "vite.config.ts",
                "tsconfig.json", "package.json", "package-lock.json")
GENERATED = CONSOLE / "src" / "api" / "generated"


def log(msg: str) -> None:
    print(f"[console] {msg}", file=sys.stderr, flush=True)


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lockfile_hash() -> str:
    return _sha256_file(CONSOLE / "package-lock.json")


def sources_hash() -> str:
    digest = hashlib.sha256()
    for name in BUILD_INPUTS:
        root = CONSOLE / name
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if GENERATED in path.parents:
                continue
            digest.update(str(path.relative_to(CONSOLE)).encode() + b"\0")
            digest.update(_sha256_file(path).encode() + b"\n")
    return digest.hexdigest()


def _stamp(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _npm(*args: str) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is not on the PATH: the console needs Node.js 20.19+ and npm")
    started = time.monotonic()
    log(f"npm {' '.join(args)}")
    env = {**os.environ, "npm_config_audit": "false", "npm_config_fund": "false", "npm_config_update_notifier": "false"}
    subprocess.run([npm, *args], cwd=CONSOLE, env=env, check=True)
    log(f"npm {args[0]}{' ' + args[1] if len(args) > 1 else ''}: {time.monotonic() - started:.1f}s")


def installed_from_lockfile() -> bool:
    """node_modules (npm's own record of it, `.package-lock.json`) holds exactly what the lockfile
    pins: same versions and integrity; what is missing is optional (other platforms' binaries). A
    tree that `npm ci` installed before the stamp existed is adopted instead of installed again."""
    try:
        want = json.loads((CONSOLE / "package-lock.json").read_text())["packages"]
        have = json.loads((NODE_MODULES / ".package-lock.json").read_text())["packages"]
    except (OSError, ValueError, KeyError):
        return False
    fields = ("version", "integrity", "resolved")
    if any(k not in want or any(want[k].get(f) != v.get(f) for f in fields) for k, v in have.items()):
        return False
    return all(v.get("optional") or v.get("peer") for k, v in want.items() if k and k not in have)


def ensure_dependencies(force: bool = False) -> bool:
    """`npm ci` unless node_modules was installed from this lockfile. True when it ran."""
    want = lockfile_hash()
    if not force and NODE_MODULES.is_dir():
        if _stamp(LOCK_STAMP) == want:
            return False
        if installed_from_lockfile():
            LOCK_STAMP.write_text(want + "\n")
            return False
    _npm("ci", "--no-audit", "--no-fund")
    LOCK_STAMP.write_text(want + "\n")
    return True


def ensure_built(force: bool = False) -> bool:
    """Dependencies, then `npm run build` unless dist/ was built from these sources. True when it built."""
    installed = ensure_dependencies(force=force)
    want = sources_hash()
    if not force and not installed and (DIST / "index.html").is_file() and _stamp(BUILD_STAMP) == want:
        return False
    _npm("run", "build")
    BUILD_STAMP.write_text(want + "\n")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the ops console when its sources or lockfile changed")
    parser.add_argument("--force", action="store_true", help="npm ci and build whatever the stamps say")
    parser.add_argument("--deps-only", action="store_true", help="only npm ci (when the lockfile changed)")
    args = parser.parse_args()
    if args.deps_only:
        ran = ensure_dependencies(force=args.force)
        log("dependencies installed" if ran else "dependencies up to date (lockfile unchanged)")
        return
    built = ensure_built(force=args.force)
    log(f"built {DIST.relative_to(PROJECT_ROOT)}" if built else f"{DIST.relative_to(PROJECT_ROOT)} up to date")


if __name__ == "__main__":
    main()
