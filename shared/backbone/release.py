"""Release tasks, run once per deployment before the new version serves: topics, then migrations.

`python -m backbone.release migrate-and-create-topics` (the Job in deploy/k8s/migrate-job.yaml and the
`migrate` service of deploy/docker-compose.yml), with `KAFKA_BOOTSTRAP_SERVERS` and `DATABASE_URL` set.
The local launcher calls the same two functions (it imports this module, never the reverse).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from backbone.topics import ALL_TOPICS, TopicSpec

# shared/backbone/release.py → the folder holding shared/ and services/ (the repository, or /app in the image).
SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"
# Each folder holds a service's migrations/ (Alembic, one PostgreSQL schema per service).
SERVICE_NAMES = ("crm", "eoms-bridge", "sla", "notify")


def _log(msg: str) -> None:
    print(f"[release] {msg}", file=sys.stderr, flush=True)


def service_dir(name: str) -> Path:
    return SERVICES_DIR / name


async def ensure_topics(bootstrap: str, topics: list[TopicSpec] | None = None) -> None:
    """Create the suite's topics (and their DLQs) if they do not exist yet."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    specs = topics or ALL_TOPICS
    deadline = time.monotonic() + 60
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [NewTopic(s.name, s.partitions, 1) for s in specs if s.name not in existing]
            if missing:
                await admin.create_topics(missing)
                _log(f"created topics: {', '.join(t.name for t in missing)}")
            return
        except Exception as exc:  # the controller may still be electing itself
            if time.monotonic() > deadline:
                raise
            _log(f"waiting for Kafka metadata: {exc!r}")
            await asyncio.sleep(0.5)
        finally:
            await admin.close()


def migrate_all(database_url: str) -> None:
    """Alembic upgrade to head for every service, each in its own schema."""
    from backbone.migrations import upgrade_head

    for name in SERVICE_NAMES:
        upgrade_head(service_dir(name), database_url)


def main(argv: list[str] | None = None) -> None:
    if (sys.argv[1:] if argv is None else argv) != ["migrate-and-create-topics"]:
        raise SystemExit("usage: python -m backbone.release migrate-and-create-topics")
    asyncio.run(ensure_topics(os.environ["KAFKA_BOOTSTRAP_SERVERS"]))
    migrate_all(os.environ["DATABASE_URL"])


if __name__ == "__main__":
    main()
