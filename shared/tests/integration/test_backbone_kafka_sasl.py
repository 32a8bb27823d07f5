"""Kafka with SASL/SCRAM and ACLs per service (docs/security.md, item 6), on the broker docker-compose runs.

The broker is deploy/kafka/start-broker.sh itself (with deploy/kafka/broker.properties), pointed at the
same Apache Kafka 4.1 jars the local infrastructure runs (`KAFKA_HOME` holds two wrapper scripts), on
free loopback ports. The ACLs are those `python -m backbone.release kafka-acls` creates from
`backbone.topics.KAFKA_ACCESS`; the clients are the backbone's (`Producer`, `make_consumer`,
`kafka_reachable`, the runtime) configured by the settings' KAFKA_SECURITY_PROTOCOL / KAFKA_SASL_*.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from backbone.kafka import KafkaSecurity, Producer, kafka_reachable, make_consumer
from backbone.release import acl_bindings, ensure_acls, ensure_topics
from backbone.settings import ServiceSettings
from backbone.topics import ALL_TOPICS, KAFKA_ACCESS, STREAMS, dlq

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.skipif(not (shutil.which("java") and shutil.which("mvn")), reason="needs Java and Maven")


@dataclass(frozen=True)
class Broker:
    bootstrap: str
    passwords: dict[str, str]

    def security(self, user: str, password: str | None = None) -> KafkaSecurity:
        return KafkaSecurity("SASL_PLAINTEXT", "SCRAM-SHA-512", user, password or self.passwords[user])

    def settings(self, service: str) -> ServiceSettings:
        """A service's settings as docker-compose gives them (the environment's names)."""
        return ServiceSettings(environment="test", service_name=service, kafka_bootstrap_servers=self.bootstrap,
                               kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_mechanism="SCRAM-SHA-512",
                               kafka_sasl_username=service, kafka_sasl_password=self.passwords[service])


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    from devtools.infra import _kafka_classpath, free_port, port_open, shared_cache_dir

    classpath = _kafka_classpath(shared_cache_dir())
    home = tmp_path_factory.mktemp("kafka-home")
    (home / "bin").mkdir()
    for name, main in (("kafka-storage.sh", "kafka.tools.StorageTool"), ("kafka-server-start.sh", "kafka.Kafka")):
        script = home / "bin" / name
        script.write_text(f'#!/bin/sh\nexec java -Xmx512m -cp "{classpath}" {main} "$@"\n')
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    port = free_port()
    passwords = {user: secrets.token_urlsafe(18) for user in ("admin", *KAFKA_ACCESS)}
    env = {**os.environ, "KAFKA_HOME": str(home), "KAFKA_DATA_DIR": str(home / "data"), "KAFKA_PORT": str(port),
           "KAFKA_CONTROLLER_PORT": str(free_port()), "KAFKA_INTERNAL_PORT": str(free_port()),
           "KAFKA_LISTEN_HOST": "127.0.0.1", "KAFKA_ADVERTISED_HOST": "127.0.0.1",
           "KAFKA_PROPERTIES": str(home / "broker.properties"),
           **{f"KAFKA_{user.upper().replace('-', '_')}_PASSWORD": pw for user, pw in passwords.items()}}
    log = open(home / "broker.log", "wb")  # noqa: SIM115 - handed to the broker process
    proc = subprocess.Popen(["bash", str(ROOT / "deploy" / "kafka" / "start-broker.sh")], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for _ in range(600):
            if port_open("127.0.0.1", port) or proc.poll() is not None:
                break
            asyncio.run(asyncio.sleep(0.1))
        assert proc.poll() is None, (home / "broker.log").read_text()[-3000:]
        b = Broker(f"127.0.0.1:{port}", passwords)
        asyncio.run(ensure_topics(b.bootstrap, security=b.security("admin")))
        asyncio.run(ensure_acls(b.bootstrap, b.security("admin")))
        yield b
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_the_start_script_refuses_missing_or_weak_passwords(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}
    env.update(KAFKA_HOME=str(tmp_path), KAFKA_DATA_DIR=str(tmp_path / "d"), KAFKA_ADMIN_PASSWORD="short")
    r = subprocess.run(["bash", str(ROOT / "deploy" / "kafka" / "start-broker.sh")], env=env, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2 and "password of Kafka user" in r.stderr


async def test_credentials_are_required_and_checked(broker: Broker) -> None:
    assert await kafka_reachable(broker.bootstrap, 5, broker.security("crm"))
    assert await kafka_reachable(broker.bootstrap, 5, KafkaSecurity.from_settings(broker.settings("crm")))
    assert not await kafka_reachable(broker.bootstrap, 5, broker.security("crm", "not-the-password"))
    assert not await kafka_reachable(broker.bootstrap, 5, broker.security("intruder", "whatever-password"))
    assert not await kafka_reachable(broker.bootstrap, 5)  # plaintext, no authentication


async def test_each_service_writes_only_its_streams_and_dead_letters(broker: Broker) -> None:
    for service, access in KAFKA_ACCESS.items():
        producer = Producer(broker.bootstrap, client_id=f"acl-{service}", security=broker.security(service))
        await producer.start()
        try:
            for topic in access.writes:
                await asyncio.wait_for(producer.send_and_wait(topic, b"{}", key=b"k"), 20)
            others = [t.name for t in ALL_TOPICS if t.name not in access.writes]
            assert others
            for topic in others:
                with pytest.raises(TopicAuthorizationFailedError):
                    await asyncio.wait_for(producer.send_and_wait(topic, b"{}", key=b"k"), 20)
        finally:
            await producer.stop()


async def _refusal(consumer: Any, seconds: float = 15) -> BaseException | None:
    """What the broker refuses a consumer (it surfaces on start or on a later poll), or None after `seconds`
    of polling without a refusal."""
    try:
        await asyncio.wait_for(consumer.start(), 30)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            await consumer.getmany(timeout_ms=300)
        return None
    except (TimeoutError, KafkaError) as exc:
        return exc
    finally:
        await consumer.stop()


async def test_each_service_reads_only_what_it_follows_in_its_own_group(broker: Broker) -> None:
    for service, access in KAFKA_ACCESS.items():
        security = broker.security(service)
        own = make_consumer(broker.bootstrap, *access.consumes, group_id=access.group, security=security)
        assert await _refusal(own, seconds=2) is None, service
        foreign = next(t for t in STREAMS if t not in access.consumes)
        refused = await _refusal(make_consumer(broker.bootstrap, foreign, group_id=access.group, security=security))
        assert isinstance(refused, TopicAuthorizationFailedError), (service, foreign, refused)
        another = next(a.group for s, a in KAFKA_ACCESS.items() if s != service)
        refused = await _refusal(make_consumer(broker.bootstrap, *access.consumes, group_id=another,
                                               security=security))
        assert isinstance(refused, GroupAuthorizationFailedError), (service, another, refused)


async def test_the_runtime_uses_the_settings_credentials(broker: Broker) -> None:
    """A service's runtime (its relay's producer, its consumers, /readyz) authenticates as the settings say."""
    from sqlalchemy import MetaData

    from backbone.db import event_tables
    from backbone.runtime import Infra, ServiceRuntime

    settings = broker.settings("sla")
    metadata = MetaData(schema="sla_acl_test")
    event_tables(metadata)
    runtime = ServiceRuntime(Infra.create(settings, metadata), context=None)
    runtime.add_consumer(topics=list(KAFKA_ACCESS["sla"].consumes), handlers={})
    assert runtime.consumers[0].security == KafkaSecurity.from_settings(settings)
    await runtime.producer.start()
    try:
        await asyncio.wait_for(runtime.producer.send_and_wait("sla.alerts", b"{}", key=b"k"), 20)
        with pytest.raises(TopicAuthorizationFailedError):
            await asyncio.wait_for(runtime.producer.send_and_wait("eoms.tickets", b"{}", key=b"k"), 20)
    finally:
        await runtime.producer.stop()
        await runtime.infra.engine.dispose()


async def test_acls_are_idempotent_and_cover_dead_letters(broker: Broker) -> None:
    n = await ensure_acls(broker.bootstrap, broker.security("admin"))
    assert n == len(acl_bindings())
    assert ("User:notify", 2, dlq("sla.alerts"), 4) in acl_bindings()
    with pytest.raises(RuntimeError, match="needs ALTER permission"):  # a service cannot grant itself more
        await ensure_acls(broker.bootstrap, broker.security("crm"))
