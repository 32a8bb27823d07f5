"""A real identity provider on this machine: Keycloak, for the security tests and the console's OIDC login.

- Fetched once: ``org.keycloak:keycloak-quarkus-dist:<version>:zip`` from Maven Central with ``mvn``
  (kept in ``~/.m2``), unpacked into ``.data/keycloak/keycloak-<version>``.
- Started in development mode (``kc.sh start-dev``: HTTP, an H2 database in the profile's data folder) on
  free ports, with the realm of ``devtools/keycloak/realm-groupsuite.json`` imported: the suite's roles,
  users (password ``<user>-password``; a partner engineer among them), the console (a public client with
  PKCE), two confidential test clients, and audience mappers so a token names the services it is for.
- Needs Java 21+: ``KEYCLOAK_JAVA_HOME``, else ``/usr/lib/jvm/temurin-25-jdk-amd64``, else ``JAVA_HOME``.

    python -m devtools.keycloak up      # prints OIDC_ISSUER=...; Ctrl-C stops it
    with Keycloak.start(profile="test") as kc: kc.password_token("am_zhang")

Never imported by the services; the tests use it through the ``keycloak`` fixture
(``tests/security/conftest.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from devtools.infra import PROJECT_ROOT, free_port, log

KEYCLOAK_VERSION = os.environ.get("KEYCLOAK_VERSION", "26.5.6")
REALM_FILE = Path(__file__).resolve().parent / "keycloak" / "realm-groupsuite.json"
REALM = "groupsuite"
ADMIN_USER, ADMIN_PASSWORD = "kc-admin", "kc-admin-password"  # the master realm's bootstrap admin (dev only)
TEST_CLIENT = ("suite-tests", "suite-tests-secret")
CRM_ONLY_CLIENT = ("crm-only", "crm-only-secret")
#: Fault management, a machine caller (the `integration` role) whose tokens name the EOMS bridge only.
FAULT_MANAGEMENT_CLIENT = ("fault-management", "fault-management-secret")
JAVA_CANDIDATES = ("/usr/lib/jvm/temurin-25-jdk-amd64", "/usr/lib/jvm/temurin-21-jdk-amd64")


def _template_dir() -> Path:
    digest = hashlib.sha256(REALM_FILE.read_bytes()).hexdigest()[:12]
    return data_root() / "keycloak" / f"db-template-{KEYCLOAK_VERSION}-{digest}"


def _make_template(profile: str, template: Path, timeout: float) -> None:
    """Start once on an empty database (schema + realm import), stop, keep the database files."""
    log("preparing Keycloak's database with the realm (first run only)")
    data = data_root() / profile / "keycloak"
    kc = Keycloak._launch(ensure_distribution(), data, timeout)
    kc.stop()
    staging = template.with_name(template.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(data / "h2", staging, ignore=shutil.ignore_patterns("*.lock.db", "*.trace.db"))
    staging.rename(template)


def prepare(profile: str = "test", timeout: float = 600) -> Path:
    """The distribution unpacked and the realm's database template made (the slow first start), so a test's
    Keycloak only copies the template and starts: `make test` runs this as a step of its own, outside any
    test's timeout."""
    home = ensure_distribution()
    template = _template_dir()
    if not (template / "keycloakdb.mv.db").exists():
        # On an empty database: one left by an earlier run already holds the realm as it was then, and the
        # import would skip the realm file as it is now.
        shutil.rmtree(data_root() / profile / "keycloak", ignore_errors=True)
        _make_template(profile, template, timeout)
        shutil.rmtree(data_root() / profile / "keycloak", ignore_errors=True)
    return home


def data_root() -> Path:
    return Path(os.environ.get("GS_DATA_DIR", PROJECT_ROOT / ".data"))


def java_home() -> str:
    for candidate in (os.environ.get("KEYCLOAK_JAVA_HOME"), *JAVA_CANDIDATES, os.environ.get("JAVA_HOME")):
        if candidate and (Path(candidate) / "bin" / "java").exists() and _java_major(candidate) >= 21:
            return candidate
    raise RuntimeError("Keycloak needs Java 21+: set KEYCLOAK_JAVA_HOME to such a JDK")


def _java_major(home: str) -> int:
    out = subprocess.run([str(Path(home) / "bin" / "java"), "-version"], capture_output=True, text=True).stderr
    try:
        version = out.split('"')[1]
        return int(version.split(".")[0])
    except (IndexError, ValueError):
        return 0


def ensure_distribution(version: str = KEYCLOAK_VERSION) -> Path:
    """The unpacked distribution (downloaded by Maven the first time, then reused)."""
    home = data_root() / "keycloak" / f"keycloak-{version}"
    if (home / "bin" / "kc.sh").exists():
        return home
    downloads = data_root() / "keycloak" / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    archive = downloads / f"keycloak-quarkus-dist-{version}.zip"
    if not archive.exists():
        log(f"fetching Keycloak {version} from Maven Central (first run only)")
        subprocess.run(
            ["mvn", "-q", "-B", "dependency:copy", f"-Dartifact=org.keycloak:keycloak-quarkus-dist:{version}:zip",
             f"-DoutputDirectory={downloads}"],
            check=True, cwd=downloads,
        )
    staging = home.with_name(home.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(staging)
    inner = staging / f"keycloak-{version}"
    for script in (inner / "bin").glob("*.sh"):
        script.chmod(0o755)
    inner.rename(home)
    shutil.rmtree(staging, ignore_errors=True)
    return home


@dataclass
class Keycloak:
    """A running Keycloak with the suite's realm."""

    url: str
    proc: subprocess.Popen[bytes] | None = None
    started_in_s: float = 0.0
    log_path: Path | None = None
    _client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    @property
    def issuer(self) -> str:
        return f"{self.url}/realms/{REALM}"

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/token"

    @classmethod
    def start(cls, profile: str = "test", *, fresh: bool = True, timeout: float = 300) -> Keycloak:
        """Start Keycloak on free ports with the realm imported. `fresh`: a new database, so the realm is
        exactly the committed one (keys added by a previous test run are gone). A fresh database is a
        copy of a template made once per Keycloak version and realm file (creating the schema and
        importing the realm is half of a start on 2 cores)."""
        home = ensure_distribution()
        data = data_root() / profile / "keycloak"
        if fresh:
            shutil.rmtree(data, ignore_errors=True)
            prepare(profile, timeout)
            shutil.copytree(_template_dir(), data / "h2")
        return cls._launch(home, data, timeout)

    @classmethod
    def _launch(cls, home: Path, data: Path, timeout: float) -> Keycloak:
        data.mkdir(parents=True, exist_ok=True)
        # --import-realm reads the distribution's data/import: the committed realm, copied at each start
        # (a realm that exists already is left as it is).
        (home / "data" / "import").mkdir(parents=True, exist_ok=True)
        shutil.copy(REALM_FILE, home / "data" / "import" / REALM_FILE.name)
        port, management = free_port(), free_port()
        env = {
            **os.environ,
            "JAVA_HOME": java_home(),
            "KC_BOOTSTRAP_ADMIN_USERNAME": ADMIN_USER,
            "KC_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "JAVA_OPTS_KC_HEAP": os.environ.get("KEYCLOAK_HEAP", "-Xms128m -Xmx768m"),
            # A development server on 2 cores: start fast (C1 only); Java 24+ needs the opening
            # for JBoss threads' thread-local reset.
            "JAVA_OPTS_APPEND": "-XX:TieredStopAtLevel=1 --add-opens=java.base/java.lang=ALL-UNNAMED",
        }
        args = [
            str(home / "bin" / "kc.sh"), "start-dev", "--import-realm",
            f"--http-port={port}", "--http-host=127.0.0.1", f"--http-management-port={management}",
            # The profile's own database (run and test never share one).
            f"--db-url=jdbc:h2:file:{data / 'h2' / 'keycloakdb'};NON_KEYWORDS=VALUE;AUTO_SERVER=TRUE",
        ]
        log_path = data / "keycloak.log"
        started = time.monotonic()
        out = open(log_path, "ab")  # noqa: SIM115 - handed to the server process
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=out, start_new_session=True, cwd=data)
        kc = cls(url=f"http://127.0.0.1:{port}", proc=proc, log_path=log_path)
        deadline = started + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"Keycloak exited with {proc.returncode}; see {log_path}")
            try:
                if kc._client.get(f"{kc.issuer}/.well-known/openid-configuration", timeout=2).status_code == 200:
                    kc.started_in_s = time.monotonic() - started
                    log(f"Keycloak {KEYCLOAK_VERSION} ready on {kc.url} in {kc.started_in_s:.0f}s (pid {proc.pid})")
                    return kc
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        kc.stop()
        raise RuntimeError(f"Keycloak not ready within {timeout:.0f}s; see {log_path}")

    def stop(self) -> None:
        self._client.close()
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def __enter__(self) -> Keycloak:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- tokens by the standard flows ------------------------------------------------------------------
    def _token(self, data: dict[str, str]) -> dict[str, Any]:
        r = self._client.post(self.token_endpoint, data=data)
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    def password_token(self, username: str, *, client: tuple[str, str] = TEST_CLIENT,
                       password: str | None = None) -> str:
        """Resource-owner password grant for a test user (only the test clients allow it)."""
        body = self._token({"grant_type": "password", "client_id": client[0], "client_secret": client[1],
                            "username": username, "password": password or f"{username}-password",
                            "scope": "openid"})
        return str(body["access_token"])

    def client_token(self, client: tuple[str, str] = TEST_CLIENT) -> str:
        """Client-credentials grant: the client's service account (its realm roles)."""
        body = self._token({"grant_type": "client_credentials", "client_id": client[0], "client_secret": client[1]})
        return str(body["access_token"])

    # -- administration (the tests add and rotate signing keys) ---------------------------------------
    def admin_headers(self) -> dict[str, str]:
        r = self._client.post(f"{self.url}/realms/master/protocol/openid-connect/token",
                              data={"grant_type": "password", "client_id": "admin-cli",
                                    "username": ADMIN_USER, "password": ADMIN_PASSWORD})
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def add_rsa_key(self, name: str, *, priority: int, private_key_pem: str | None = None) -> None:
        """A signing key for the realm: generated by Keycloak, or the given one. The highest priority
        signs new tokens; every active key is published in the JWKS."""
        headers = self.admin_headers()
        realm_id = self._client.get(f"{self.url}/admin/realms/{REALM}", headers=headers).json()["id"]
        config: dict[str, list[str]] = {"priority": [str(priority)], "enabled": ["true"], "active": ["true"],
                                        "algorithm": ["RS256"]}
        if private_key_pem:
            config["privateKey"] = [private_key_pem]
        else:
            config["keySize"] = ["2048"]
        r = self._client.post(
            f"{self.url}/admin/realms/{REALM}/components", headers=headers,
            json={"name": name, "providerId": "rsa" if private_key_pem else "rsa-generated",
                  "providerType": "org.keycloak.keys.KeyProvider", "parentId": realm_id, "config": config},
        )
        r.raise_for_status()

    def jwks(self) -> dict[str, Any]:
        certs: dict[str, Any] = self._client.get(f"{self.issuer}/protocol/openid-connect/certs").json()
        return certs


def main() -> None:
    parser = argparse.ArgumentParser(description="Run Keycloak with the suite's realm (dev mode)")
    parser.add_argument("action", choices=["up", "fetch", "prepare"],
                        help="up: run it; fetch: the distribution; prepare: fetch + the realm's database template")
    parser.add_argument("--profile", default="run")
    parser.add_argument("--keep", action="store_true", help="keep the database (and realm changes) of last time")
    args = parser.parse_args()
    if args.action == "fetch":
        print(ensure_distribution())
        return
    if args.action == "prepare":
        print(prepare(args.profile))
        return
    kc = Keycloak.start(args.profile, fresh=not args.keep)
    print(f"OIDC_ISSUER={kc.issuer}", flush=True)
    print(f"# users: am_zhang, am_li, noc_wang, sup_chen, admin_zhao, partner_hw, partner_zte, disp_liu, head_zhou, "
          f"desk_guo, agent_sun (password: <user>-password); "
          f"admin console {kc.url}/admin ({ADMIN_USER})", flush=True)
    try:
        while kc.proc and kc.proc.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        kc.stop()


if __name__ == "__main__":
    main()
