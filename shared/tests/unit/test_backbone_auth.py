"""Identity (docs/security.md): OIDC tokens through discovery + JWKS, the dev issuer only in local/test,
and every odd token a 401/403, never a 500. A real Keycloak is in tests/security/test_security_keycloak.py;
here the provider is an in-process JWKS endpoint (httpx.MockTransport), so rotation and rate limits are exact."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy import String

from backbone.auth import (
    DEV_AUDIENCES,
    SUBJECT_MAX_LENGTH,
    JwksCache,
    OidcVerifier,
    TokenVerifier,
    VerifiedTokens,
    issue_token,
)
from backbone.problems import Problem
from backbone.settings import DEV_JWT_SECRET, ServiceSettings

ISSUER = "https://id.example/realms/groupsuite"


class Provider:
    """An OIDC provider's discovery document and JWKS, served in-process; counts the JWKS fetches."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.jwks_fetches = 0
        self.down = False
        self.add_rsa("k1")

    def add_rsa(self, kid: str) -> None:
        self.keys[kid] = ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def add_ec(self, kid: str) -> None:
        self.keys[kid] = ("ES256", ec.generate_private_key(ec.SECP256R1()))

    def jwks(self) -> dict[str, Any]:
        out = []
        for kid, (alg, key) in self.keys.items():
            algo = RSAAlgorithm if alg == "RS256" else ECAlgorithm
            jwk = json.loads(algo.to_jwk(key.public_key()))
            out.append({**jwk, "kid": kid, "use": "sig", "alg": alg})
        return {"keys": out}

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("refused", request=request)
        if request.url.path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": ISSUER + "/certs"})
        if request.url.path.endswith("/certs"):
            self.jwks_fetches += 1
            return httpx.Response(200, json=self.jwks())
        return httpx.Response(404)

    def token(self, kid: str = "k1", **overrides: Any) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": ["crm", "sla"], "sub": "am_zhang", "exp": now + 300, "iat": now,
                  "roles": ["account_manager"], "typ": "Bearer"}
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not ...}
        alg, key = self.keys[kid]
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verifier(provider: Provider, *, audience: str = "crm", dev: bool = False, min_refresh_s: float = 10.0,
             ttl_s: float = 300.0, clock: Clock | None = None) -> TokenVerifier:
    client = httpx.AsyncClient(transport=httpx.MockTransport(provider.handler))
    jwks = JwksCache(ISSUER, ttl_s=ttl_s, min_refresh_s=min_refresh_s, client=client, clock=clock or Clock())
    return TokenVerifier(audience=audience, oidc=OidcVerifier(ISSUER, audience, jwks, leeway_s=0),
                         dev_secret=DEV_JWT_SECRET if dev else None, leeway_s=0)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def status_of(v: TokenVerifier, token: str | None) -> int:
    try:
        await v.principal(None if token is None else f"Bearer {token}")
    except Problem as exc:
        return exc.status
    return 200


def test_an_rs256_or_es256_token_of_the_provider_gives_the_principal() -> None:
    provider = Provider()
    provider.add_ec("e1")
    v = verifier(provider)

    async def check() -> None:
        p = await v.principal(f"Bearer {provider.token()}")
        assert p.subject == "am_zhang" and p.roles == {"account_manager"}
        p = await v.principal(f"Bearer {provider.token('e1', roles=['supervisor', 'unknown'])}")
        assert p.roles == {"supervisor"}

    run(check())
    assert provider.jwks_fetches == 1  # cached


@pytest.mark.parametrize(("claims", "status"), [
    ({"exp": ...}, 401),                       # no exp: would never expire
    ({"exp": int(time.time()) - 5}, 401),      # expired
    ({"aud": "notify"}, 401),                  # another service's token
    ({"aud": ...}, 401),                       # no audience at all
    ({"iss": "https://evil.example"}, 401),    # another issuer
    ({"sub": ...}, 401),                       # no subject
    ({"sub": ""}, 401),
    ({"sub": 42}, 401),
    ({"sub": "x" * (SUBJECT_MAX_LENGTH + 1)}, 401),  # longer than the actor columns
    ({"sub": "am\x00zhang"}, 401),
    ({"roles": "admin"}, 401),                 # not a list
    ({"roles": [1, 2]}, 401),
    ({"roles": {"admin": True}}, 401),
    ({"typ": "ID"}, 401),                      # an ID token is no access token
    ({"typ": "Refresh"}, 401),
    ({"nbf": int(time.time()) + 3600}, 401),
    ({"exp": "tomorrow"}, 401),
    ({"roles": ...}, 200),                     # no roles: a principal with none (403 on guarded routes)
    ({"name": "x" * 10_000}, 200),             # an odd name is dropped, not fatal
])
def test_claims_are_required_and_typed(claims: dict[str, Any], status: int) -> None:
    provider = Provider()
    assert run(status_of(verifier(provider), provider.token(**claims))) == status


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_forged_tokens_are_401() -> None:
    provider = Provider()
    v = verifier(provider)
    good = provider.token()
    header, payload, signature = good.split(".")
    other = Provider()  # same kid, another key
    forged_sig = other.token()
    none_alg = base64.urlsafe_b64encode(b'{"alg":"none","kid":"k1"}').rstrip(b"=").decode() + f".{payload}."
    # Algorithm confusion: HS256 "signed" with the provider's public key as the secret.
    public_pem = provider.keys["k1"][1].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = (_b64(json.dumps({"alg": "HS256", "kid": "k1"}).encode()) + "." + _b64(json.dumps(
        {"iss": ISSUER, "aud": "crm", "sub": "x", "exp": int(time.time()) + 60}).encode()))
    hs_confusion = signing_input + "." + _b64(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())
    tampered = f"{header}.{base64.urlsafe_b64encode(json.dumps({'sub': 'admin'}).encode()).decode()}.{signature}"
    for token in (forged_sig, none_alg, hs_confusion, tampered, "nope", "a.b.c", "é" * 10, "x" * 20_000):
        assert run(status_of(v, token)) == 401, token[:40]
    assert run(status_of(v, None)) == 401


def test_the_dev_issuer_only_where_enabled() -> None:
    provider = Provider()
    dev_token = issue_token("am_zhang", ["account_manager"], secret=DEV_JWT_SECRET)
    assert run(status_of(verifier(provider, dev=True), dev_token)) == 200
    assert run(status_of(verifier(provider, dev=False), dev_token)) == 401
    claims = {"sub": "a", "iss": "groupsuite", "aud": list(DEV_AUDIENCES)}
    no_exp = jwt.encode(claims, DEV_JWT_SECRET, algorithm="HS256")
    assert run(status_of(verifier(provider, dev=True), no_exp)) == 401
    wrong_aud = issue_token("a", ["admin"], secret=DEV_JWT_SECRET, audience="notify")
    assert run(status_of(verifier(provider, dev=True), wrong_aud)) == 401


def test_settings_enable_the_dev_issuer_only_in_local_and_test(monkeypatch: pytest.MonkeyPatch) -> None:
    assert TokenVerifier.from_settings(ServiceSettings(environment="test")).dev_secret == DEV_JWT_SECRET
    assert TokenVerifier.from_settings(ServiceSettings(environment="local")).dev_secret == DEV_JWT_SECRET
    prod = ServiceSettings(environment="production", jwt_secret="s" * 40, oidc_issuer=ISSUER, service_name="sla")
    v = TokenVerifier.from_settings(prod)
    assert v.dev_secret is None and v.oidc is not None and v.oidc.audience == "sla"
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    with pytest.raises(ValueError, match="environment"):
        ServiceSettings()  # no default: a deployment that forgets ENVIRONMENT does not start
    with pytest.raises(ValueError, match="https"):
        ServiceSettings(environment="staging", jwt_secret="s" * 40, oidc_issuer="http://id.example")
    with pytest.raises(ValueError, match="OIDC_ALGORITHMS"):
        ServiceSettings(environment="test", oidc_algorithms=["HS256"])


def test_the_eoms_callback_secrets_have_no_usable_default_outside_local_and_test() -> None:
    """The shared callback token became per-partner HMAC secrets (docs/security.md, item 3); the same rule."""
    from eoms_bridge.settings import EomsSettings

    assert EomsSettings(environment="test").callback_secrets()
    with pytest.raises(ValueError, match="EOMS_CALLBACK_PARTNERS"):
        EomsSettings(environment="production", jwt_secret="s" * 40, oidc_issuer=ISSUER)
    EomsSettings(environment="production", jwt_secret="s" * 40, oidc_issuer=ISSUER,
                 eoms_callback_partners={"huawei-eoms": "t" * 40})


def test_rotation_refetches_on_an_unknown_kid_at_most_once_per_interval() -> None:
    provider = Provider()
    clock = Clock()
    v = verifier(provider, min_refresh_s=10, ttl_s=300, clock=clock)

    async def check() -> None:
        assert await status_of(v, provider.token()) == 200
        provider.add_rsa("k2")  # the provider rotates: new tokens are signed by k2
        clock.now += 11
        assert await status_of(v, provider.token("k2")) == 200
        assert provider.jwks_fetches == 2
        # A flood of made-up kids: no more than one fetch per interval (none right after a fetch).
        stranger = Provider()
        for i in range(20):
            stranger.keys[f"x{i}"] = stranger.keys["k1"]
            assert await status_of(v, stranger.token(f"x{i}")) == 401
        assert provider.jwks_fetches == 2
        clock.now += 11
        for i in range(20):
            assert await status_of(v, stranger.token(f"x{i}")) == 401
        assert provider.jwks_fetches == 3
        retired = provider.token("k1")
        del provider.keys["k1"]  # k1 retired: after the TTL it is gone from the cache too
        clock.now += 301
        assert await status_of(v, provider.token("k2")) == 200
        assert await status_of(v, retired) == 401
        assert provider.jwks_fetches == 4

    run(check())


def test_provider_down_is_503_without_keys_and_stale_keys_are_kept() -> None:
    provider = Provider()
    provider.down = True
    clock = Clock()
    v = verifier(provider, ttl_s=60, min_refresh_s=5, clock=clock)

    async def check() -> None:
        try:
            await v.principal(f"Bearer {provider.token()}")
        except Problem as exc:
            assert exc.status == 503 and exc.headers and "Retry-After" in exc.headers
        else:
            raise AssertionError("expected 503")
        provider.down = False
        assert await status_of(v, provider.token()) == 503  # not retried within the interval
        clock.now += 6
        assert await status_of(v, provider.token()) == 200
        provider.down = True
        clock.now += 61
        assert await status_of(v, provider.token()) == 200  # the cached key still verifies

    run(check())


def test_a_verified_token_is_not_verified_again_until_its_exp_or_the_max_age(monkeypatch: pytest.MonkeyPatch) -> None:
    """VerifiedTokens: the same token's next requests skip the signature check; an expired one, one
    older than the max age and one that failed are checked (and refused) again."""
    provider = Provider()
    v = verifier(provider, dev=True)
    clock = Clock()
    clock.now = time.time()
    v.verified = VerifiedTokens(max_age_s=60, clock=clock)
    decodes = 0
    real_decode = jwt.decode

    def counting_decode(*args: Any, **kwargs: Any) -> Any:
        nonlocal decodes
        decodes += 1
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)

    async def check() -> None:
        oidc, dev = provider.token(), issue_token("am_li", ["account_manager"], secret=DEV_JWT_SECRET, ttl_s=100)
        for token, subject in ((oidc, "am_zhang"), (dev, "am_li")):
            first = await v.principal(f"Bearer {token}")
            again = await v.principal(f"bearer  {token} ")
            assert first == again and first.subject == subject
        assert decodes == 2 and len(v.verified) == 2
        clock.now += 59
        assert (await v.principal(f"Bearer {oidc}")).subject == "am_zhang" and decodes == 2
        clock.now += 2  # past the max age: verified again (and remembered again)
        assert await status_of(v, oidc) == 200 and decodes == 3
        clock.now += 40  # past the dev token's exp on the cache's clock: not served from memory
        assert await status_of(v, dev) == 200 and decodes == 4  # (PyJWT checks exp on the real clock)
        forged = oidc[:-4] + ("AAAA" if not oidc.endswith("AAAA") else "BBBB")
        assert await status_of(v, forged) == 401 and await status_of(v, forged) == 401  # never remembered
        assert decodes == 6

    run(check())


def test_remembered_tokens_are_not_trusted_longer_than_the_providers_keys() -> None:
    """A key the provider withdrew stops verifying when the JWKS is fetched again, remembered or not."""
    provider = Provider()
    clock = Clock()
    v = verifier(provider, min_refresh_s=10, ttl_s=30, clock=clock)

    async def check() -> None:
        old = provider.token("k1")
        assert await status_of(v, old) == 200 and await status_of(v, old) == 200
        assert len(v.verified) == 1 and provider.jwks_fetches == 1
        provider.add_rsa("k2")
        del provider.keys["k1"]
        clock.now += 20  # within the JWKS TTL: the keys in memory still hold k1, and so do the tokens
        assert await status_of(v, old) == 200 and provider.jwks_fetches == 1
        clock.now += 11  # the JWKS is stale: nothing from memory, the check fetches the keys: k1 is gone
        assert await status_of(v, old) == 401 and provider.jwks_fetches == 2
        assert await status_of(v, provider.token("k2")) == 200 and len(v.verified) == 1

    run(check())


def test_verified_tokens_are_bounded() -> None:
    clock = Clock()
    cache = VerifiedTokens(max_entries=3, max_age_s=60, clock=clock)
    from backbone.auth import Principal

    for i in range(3):
        cache.put(f"t{i}", Principal(f"s{i}"), {"exp": clock.now + 10 * (i + 1)})
    clock.now += 15  # t0 expired: it makes room first
    cache.put("t3", Principal("s3"), {"exp": clock.now + 100})
    assert cache.get("t0") is None and cache.get("t1") is not None and len(cache) == 3
    cache.put("t4", Principal("s4"), {"exp": clock.now + 100})  # full, none expired: the oldest goes
    assert cache.get("t1") is None and [cache.get(t) is not None for t in ("t2", "t3", "t4")] == [True] * 3
    cache.put("t5", Principal("s5"), {})  # no exp (cannot happen after verification): not remembered
    assert cache.get("t5") is None


def test_the_subject_fits_every_actor_column() -> None:
    """SUBJECT_MAX_LENGTH is the narrowest column a principal's subject is written to."""
    from crm import models as crm_models
    from eoms_bridge import models as eoms_models
    from notify import models as notify_models
    from sla import models as sla_models

    actor_columns = {"created_by", "actor", "assignee", "account_manager_id", "loaded_by", "principal",
                     "claimed_by_user", "updated_by"}
    widths = []
    for module in (crm_models, eoms_models, sla_models, notify_models):
        metadata = next(v for v in vars(module).values() if type(v).__name__ == "MetaData")
        for table in metadata.tables.values():
            for column in table.columns:
                if column.name in actor_columns and isinstance(column.type, String) and column.type.length:
                    widths.append((column.type.length, f"{table.fullname}.{column.name}"))
    assert widths and min(widths)[0] >= SUBJECT_MAX_LENGTH, min(widths)
    assert min(widths)[0] == SUBJECT_MAX_LENGTH, "the subject limit may grow to the narrowest actor column"


def test_deploy_manifests_give_environment_no_default() -> None:
    """A deployment that forgets ENVIRONMENT must not start as `local` (dev issuer, dev secrets)."""
    import re
    from pathlib import Path

    deploy = Path(__file__).resolve().parents[3] / "deploy"
    compose = (deploy / "docker-compose.yml").read_text()
    assert re.search(r"ENVIRONMENT: \$\{ENVIRONMENT:\?", compose), "compose must require ENVIRONMENT"
    for name in ("OIDC_ISSUER", "JWT_SECRET", "EOMS_CALLBACK_PARTNERS"):  # the callback token became partner secrets
        assert re.search(rf"{name}: \$\{{{name}:\?", compose), name
    for path in [*deploy.rglob("*.yaml"), *deploy.rglob("*.yml"), *deploy.rglob("Dockerfile*")]:
        text = path.read_text()
        assert not re.search(r"ENVIRONMENT:-", text), path
        assert not re.search(r"ENVIRONMENT:\s*(local|test)\b|ENVIRONMENT=(local|test)\b", text), path
