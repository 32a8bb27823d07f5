"""Release tasks, run once per deployment before the new version serves: topics, then migrations.

`python -m backbone.release migrate-and-create-topics` (the Job in deploy/k8s/migrate-job.yaml and the
`migrate` service of deploy/docker-compose.yml), with `KAFKA_BOOTSTRAP_SERVERS` and `DATABASE_URL` set
(the migration role: `backbone.migrations` runs each service's migrations as the role owning its schema),
and the Kafka credentials of the release principal (`KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*`).
`python -m backbone.release kafka-acls` creates each service's ACLs (`backbone.topics.KAFKA_ACCESS`;
docker-compose runs it; on Kubernetes the Strimzi KafkaUsers declare them).
The local launcher calls the same functions (it imports this module, never the reverse).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from backbone.kafka import PLAINTEXT, KafkaSecurity
from backbone.topics import ALL_TOPICS, KAFKA_ACCESS, KafkaAccess, TopicSpec

# shared/backbone/release.py → the folder holding shared/ and services/ (the repository, or /app in the image).
SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"
# Each folder holds a service's migrations/ (Alembic, one PostgreSQL schema per service).
SERVICE_NAMES = ("crm", "eoms-bridge", "sla", "notify", "stats")


def _log(msg: str) -> None:
    print(f"[release] {msg}", file=sys.stderr, flush=True)


def service_dir(name: str) -> Path:
    return SERVICES_DIR / name


async def ensure_topics(
    bootstrap: str, topics: list[TopicSpec] | None = None, security: KafkaSecurity = PLAINTEXT,
) -> None:
    """Create the suite's topics (and their DLQs) if they do not exist yet."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    specs = topics or ALL_TOPICS
    deadline = time.monotonic() + 60
    while True:
        admin = AIOKafkaAdminClient(**security.options(), bootstrap_servers=bootstrap, request_timeout_ms=10000)
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


# Kafka's ACL codes (org.apache.kafka.common.acl / resource): resource types, pattern, operations, permission.
_TOPIC, _GROUP, _LITERAL, _ALLOW = 2, 3, 3, 3
_READ, _WRITE, _DESCRIBE = 3, 4, 8


def acl_bindings(access: dict[str, KafkaAccess] | None = None,
                 topics: list[TopicSpec] | None = None) -> list[tuple[str, int, str, int]]:
    """(principal, resource type, resource name, operation) of every ACL the services need (all ALLOW, LITERAL,
    any host): each service writes its streams and the DLQs of what it consumes, reads what it consumes with its
    own consumer group, and describes every topic of the suite."""
    out: list[tuple[str, int, str, int]] = []
    for service, a in (access or KAFKA_ACCESS).items():
        principal = f"User:{service}"
        out += [(principal, _TOPIC, t, _WRITE) for t in a.writes]
        out += [(principal, _TOPIC, t, _READ) for t in a.consumes]
        out += [(principal, _TOPIC, t.name, _DESCRIBE) for t in (topics or ALL_TOPICS)]
        out.append((principal, _GROUP, a.group, _READ))
    return out


async def ensure_acls(bootstrap: str, security: KafkaSecurity, access: dict[str, KafkaAccess] | None = None,
                      topics: list[TopicSpec] | None = None) -> int:
    """Create the services' ACLs (creating an existing one is a no-op); the release principal must be allowed
    to (a super user, or ALTER on the cluster). Answers how many bindings were sent."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.protocol.admin import CreateAclsRequest

    bindings = acl_bindings(access, topics)
    admin = AIOKafkaAdminClient(**security.options(), bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        for principal, resource_type, name, operation in bindings:
            request = CreateAclsRequest(resource_type, name, _LITERAL, principal, "*", operation, _ALLOW)
            response = await admin._send_request(request)  # aiokafka has the request, not yet a public method
            for error_code, message in response.creation_responses:
                if error_code:
                    raise RuntimeError(f"CreateAcls {principal} {name} op {operation}: error {error_code} {message}")
    finally:
        await admin.close()
    _log(f"ACLs in place: {len(bindings)} bindings for {', '.join(access or KAFKA_ACCESS)}")
    return len(bindings)


def migrate_all(database_url: str) -> None:
    """Alembic upgrade to head for every service, each in its own schema."""
    from backbone.migrations import upgrade_head

    for name in SERVICE_NAMES:
        upgrade_head(service_dir(name), database_url)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    security = KafkaSecurity.from_env(os.environ)
    if args == ["migrate-and-create-topics"]:
        asyncio.run(ensure_topics(os.environ["KAFKA_BOOTSTRAP_SERVERS"], security=security))
        migrate_all(os.environ["DATABASE_URL"])
    elif args == ["kafka-acls"]:
        asyncio.run(ensure_acls(os.environ["KAFKA_BOOTSTRAP_SERVERS"], security))
    else:
        raise SystemExit("usage: python -m backbone.release migrate-and-create-topics | kafka-acls")


if __name__ == "__main__":
    main()
