"""One-off release tasks for real deployments: `python -m backbone.deploy_tasks migrate-and-create-topics`."""

from __future__ import annotations

import asyncio
import os
import sys

from backbone.devinfra import ensure_topics
from backbone.devsuite import migrate_all


def main() -> None:
    if sys.argv[1:] != ["migrate-and-create-topics"]:
        raise SystemExit("usage: python -m backbone.deploy_tasks migrate-and-create-topics")
    asyncio.run(ensure_topics(os.environ["KAFKA_BOOTSTRAP_SERVERS"]))
    migrate_all(os.environ["DATABASE_URL"])


if __name__ == "__main__":
    main()
