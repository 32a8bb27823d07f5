"""Bearer tokens: who calls, with which of the suite's roles (docs/security.md, "Identity").

Two issuers, told apart by the token's algorithm and `iss`:

* **OIDC** (production): RS256/ES256 tokens of the provider named by `OIDC_ISSUER`. Its keys come
  from the discovery document's `jwks_uri` (`JwksCache`: cached for `OIDC_JWKS_TTL_S`, fetched again
  on an unknown `kid` at most every `OIDC_JWKS_MIN_REFRESH_S`, so a key rotation is picked up and a
  flood of made-up kids is not a flood of fetches). `exp`, `iss`, `sub` and this service's `aud`
  (`OIDC_AUDIENCE`, by default the service's name) are required.
* **HS256 dev issuer** (`issue_token`, `/api/v1/dev/token`): accepted only where `ENVIRONMENT` is
  explicitly `local` or `test`; the same claims are required.

Whatever a token holds, the answer is 401 (bad token) or 403 (missing role), never 500: a subject
longer than the actor columns (`SUBJECT_MAX_LENGTH`), a `roles` claim that is no list of strings, a
missing `exp` are all "invalid token". The provider being unreachable with no key cached is 503.

A token that verified is remembered by its exact text (`VerifiedTokens`) until its `exp`, and never
longer than `VERIFIED_TOKEN_MAX_AGE_S`: a client's next requests with the same token skip the
signature check and the claims' parsing (issue 16: about 4 % of the CRM's CPU per order). A token
that failed is never remembered; a token is as valid from the cache as it was when verified (its
signature and claims cannot change). Nothing is trusted from it for longer than the provider's keys
are: the remembered tokens are dropped whenever the JWKS is fetched again, and not used at all while
the cached JWKS is older than its TTL (the next token's check fetches it), so a key the provider
withdrew stops verifying as soon as it did without the cache.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import jwt
from jwt import PyJWK

from backbone.problems import Problem
from backbone.vocabulary import TOKEN_ROLES

if TYPE_CHECKING:
    from backbone.settings import ServiceSettings

log = logging.getLogger("backbone.auth")

#: The narrowest column a subject is written to (`created_by`, `actor`, `assignee`,
#: `account_manager_id`: String(60)); `shared/tests/unit/test_backbone_auth.py` checks every model.
SUBJECT_MAX_LENGTH = 60
NAME_MAX_LENGTH = 200
#: The claim naming a partner user's partner (Keycloak: the admin-only `partner` user attribute).
PARTNER_CLAIM = "partner"
PARTNER_MAX_LENGTH = 60
#: A bearer token longer than this is refused before it is parsed.
TOKEN_MAX_LENGTH = 16_384
#: The audiences a development token carries: every service of the suite.
DEV_AUDIENCES = ("crm", "eoms-bridge", "sla", "notify", "stats")
#: `typ` values of an access token (Keycloak says "Bearer"; RFC 9068 says "at+jwt"); an ID or
#: refresh token is not a bearer credential for an API.
_ACCESS_TOKEN_TYPES = {"bearer", "at+jwt", "application/at+jwt"}


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str] = field(default_factory=frozenset)
    name: str | None = None
    #: The partner a partner user works for (the token's `partner` claim, which only the identity
    #: provider's administrators set). A partner user reaches only what a route's rule opens to partners
    #: (`backbone.authz`: the EOMS tasks assigned to them), whatever roles the token holds.
    partner: str | None = None

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


def issue_token(
    subject: str, roles: list[str], *, secret: str, issuer: str = "groupsuite", ttl_s: int = 8 * 3600,
    name: str | None = None, audience: str | Iterable[str] | None = DEV_AUDIENCES, partner: str | None = None,
) -> str:
    """A development token (HS256), valid on every service of the suite by default."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": subject, "roles": roles, "iss": issuer, "iat": now, "exp": now + ttl_s}
    if audience is not None:
        claims["aud"] = audience if isinstance(audience, str) else list(audience)
    if name:
        claims["name"] = name
    if partner is not None:
        claims[PARTNER_CLAIM] = partner
    return jwt.encode(claims, secret, algorithm="HS256")


def unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def _bearer(authorization: str | None) -> str:
    if not authorization or not authorization[:7].lower() == "bearer ":
        raise Problem(401, "Unauthorized", "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    token = authorization[7:].strip()
    if not token or len(token) > TOKEN_MAX_LENGTH or not token.isascii():
        raise unauthorized("invalid token: malformed")
    return token


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def principal_from_claims(claims: Mapping[str, Any], *, roles_claim: str = "roles") -> Principal:
    """The principal of verified claims; 401 for a subject or roles the suite cannot hold."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        raise unauthorized("invalid token: no subject")
    if len(subject) > SUBJECT_MAX_LENGTH:
        raise unauthorized(f"invalid token: the subject is longer than {SUBJECT_MAX_LENGTH} characters")
    if not subject.isprintable():
        raise unauthorized("invalid token: the subject has control characters")
    raw_roles = _claim(claims, roles_claim)
    if raw_roles is None:
        raw_roles = []
    if not isinstance(raw_roles, list) or not all(isinstance(r, str) for r in raw_roles):
        raise unauthorized(f"invalid token: the {roles_claim} claim is not a list of strings")
    name = claims.get("name")
    if not isinstance(name, str) or len(name) > NAME_MAX_LENGTH or not name.isprintable():
        name = None
    typ = claims.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in _ACCESS_TOKEN_TYPES):
        raise unauthorized("invalid token: not an access token")
    partner = claims.get(PARTNER_CLAIM)
    if partner is not None and (
        not isinstance(partner, str) or not partner.strip() or len(partner) > PARTNER_MAX_LENGTH
        or not partner.isprintable()
    ):
        raise unauthorized(f"invalid token: the {PARTNER_CLAIM} claim is not a partner id")
    return Principal(subject=subject, roles=frozenset(r for r in raw_roles if r in TOKEN_ROLES), name=name,
                     partner=partner)


# PyJWT raises its own errors for what it checks; a payload with odd types can still raise these.
_TOKEN_ERRORS = (jwt.PyJWTError, ValueError, TypeError, KeyError, OverflowError)


def _required(audience: str | None) -> list[str]:
    return ["exp", "iss", "sub", *(["aud"] if audience is not None else [])]


def _dev_claims(token: str, *, secret: str, issuer: str, audience: str | None, leeway: int) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=["HS256"], issuer=issuer, audience=audience, leeway=leeway,
            options={"require": _required(audience), "verify_aud": audience is not None},
        )
    except _TOKEN_ERRORS as exc:
        raise unauthorized(f"invalid token: {exc}") from exc
    return claims


def decode_token(
    authorization: str | None, *, secret: str, issuer: str = "groupsuite", audience: str | None = None,
    leeway: int = 0,
) -> Principal:
    """A development token (HS256): `exp`, `iss`, `sub` required, and `aud` when an audience is given."""
    token = _bearer(authorization)
    return principal_from_claims(_dev_claims(token, secret=secret, issuer=issuer, audience=audience, leeway=leeway))


#: The longest a verified token is trusted without checking it again (whatever its `exp`).
VERIFIED_TOKEN_MAX_AGE_S = 60.0
#: At most this many verified tokens are remembered (the oldest go first).
VERIFIED_TOKEN_MAX_ENTRIES = 10_000


class VerifiedTokens:
    """Tokens that verified, by their exact text, with their principal: until the token's `exp`
    (wall clock, without the leeway) and at most `max_age_s` after the check; at most `max_entries`."""

    def __init__(self, *, max_age_s: float = VERIFIED_TOKEN_MAX_AGE_S,
                 max_entries: int = VERIFIED_TOKEN_MAX_ENTRIES, clock: Callable[[], float] = time.time) -> None:
        self.max_age_s = max_age_s
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._keys: object = None  # the verification keys the entries were checked with

    def get(self, token: str, keys: object = None) -> Principal | None:
        """The principal of `token` if it verified with these `keys` (any identity: a JWKS generation)."""
        if not self._checked_with(keys):
            return None
        entry = self._entries.get(token)
        if entry is None:
            return None
        if self._clock() >= entry[1]:
            del self._entries[token]
            return None
        return entry[0]

    def put(self, token: str, principal: Principal, claims: Mapping[str, Any], keys: object = None) -> None:
        exp = claims.get("exp")
        if self.max_entries <= 0 or not isinstance(exp, int | float) or isinstance(exp, bool):
            return
        self._checked_with(keys)
        if len(self._entries) >= self.max_entries:
            now = self._clock()
            for stale in [t for t, (_, until) in self._entries.items() if until <= now]:
                del self._entries[stale]
            while len(self._entries) >= self.max_entries:  # still full: the oldest go first
                del self._entries[next(iter(self._entries))]
        self._entries[token] = (principal, min(float(exp), self._clock() + self.max_age_s))

    def _checked_with(self, keys: object) -> bool:
        """Whether the remembered tokens were verified with `keys`; if not, they are forgotten (what other
        keys verified is verified again) and `keys` become the ones entries are checked with."""
        if keys == self._keys:
            return True
        self._entries.clear()
        self._keys = keys
        return False

    def __len__(self) -> int:
        return len(self._entries)


def require(principal: Principal, *roles: str) -> Principal:
    if not principal.has(*roles):
        raise Problem(403, "Forbidden", f"requires one of the roles: {', '.join(roles)}")
    return principal


# ----------------------------------------------------------------------------------------------------
# OIDC: discovery document, JWKS cache


class IdentityProviderUnavailable(Problem):
    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(503, "Service unavailable", detail, headers={"Retry-After": str(retry_after_s)})


_FAMILY = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


class JwksCache:
    """The provider's signing keys: fetched through its discovery document, kept for `ttl_s`,
    fetched again when a token names an unknown `kid` (at most once every `min_refresh_s`)."""

    def __init__(
        self, issuer: str, *, discovery_url: str | None = None, ttl_s: float = 300.0, min_refresh_s: float = 10.0,
        timeout_s: float = 3.0, client: httpx.AsyncClient | None = None, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self._clock = clock
        self.discovery_url = discovery_url or issuer.rstrip("/") + "/.well-known/openid-configuration"
        self.ttl_s = ttl_s
        self.min_refresh_s = min_refresh_s
        self.timeout_s = timeout_s
        self._client = client
        self._own_client = client is None
        self._jwks_uri: str | None = None
        self._keys: list[tuple[dict[str, Any], PyJWK]] = []
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = asyncio.Lock()
        self.fetches = 0  # JWKS documents fetched (tests and metrics)
        self.generation = 0  # +1 each time the keys are replaced by a fetch

    def fresh(self) -> bool:
        """The keys were fetched within the TTL (a token checked now would not fetch them again)."""
        return self._clock() - self._fetched_at <= self.ttl_s

    async def key_for(self, kid: str | None, alg: str) -> PyJWK:
        now = self._clock()
        if now - self._fetched_at > self.ttl_s and now - self._attempted_at >= self.min_refresh_s:
            await self._refresh(now)
        key = self._find(kid, alg)
        if key is None and self._clock() - self._attempted_at >= self.min_refresh_s:
            await self._refresh(self._clock())  # a rotation: the provider may have a new key
            key = self._find(kid, alg)
        if key is None and not self._keys:
            raise IdentityProviderUnavailable("the identity provider's keys cannot be fetched", self._retry_after())
        if key is None:
            raise unauthorized("invalid token: signed by a key the identity provider does not publish")
        return key

    def _retry_after(self) -> int:
        return max(1, round(self.min_refresh_s))

    def _find(self, kid: str | None, alg: str) -> PyJWK | None:
        family = _FAMILY.get(alg[:2])
        candidates = [
            key for data, key in self._keys
            if (kid is None or data.get("kid") == kid) and data.get("kty") == family and data.get("alg", alg) == alg
        ]
        # Without a kid, only an unambiguous key is used.
        return candidates[0] if len(candidates) == 1 or (kid is not None and candidates) else None

    async def _refresh(self, requested_at: float) -> None:
        async with self._lock:
            if self._attempted_at >= requested_at:
                return  # another request refreshed while this one waited
            self._attempted_at = self._clock()
            try:
                keys = await self._fetch()
            except (httpx.HTTPError, ValueError, TypeError, KeyError) as exc:
                if not self._keys:
                    raise IdentityProviderUnavailable(
                        "the identity provider's keys cannot be fetched", self._retry_after()
                    ) from exc
                log.warning("JWKS refresh from %s failed, keeping the cached keys: %r", self.issuer, exc)
                return
            self._keys = keys
            self._fetched_at = self._clock()
            self.generation += 1

    async def _fetch(self) -> list[tuple[dict[str, Any], PyJWK]]:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False)
        if self._jwks_uri is None:
            response = await self._client.get(self.discovery_url)
            response.raise_for_status()
            discovery = response.json()
            if discovery.get("issuer") != self.issuer:
                raise ValueError(f"the discovery document names issuer {discovery.get('issuer')!r}")
            jwks_uri = discovery["jwks_uri"]
            if not isinstance(jwks_uri, str):
                raise ValueError("the discovery document has no jwks_uri")
            self._jwks_uri = jwks_uri
        response = await self._client.get(self._jwks_uri)
        response.raise_for_status()
        self.fetches += 1
        keys: list[tuple[dict[str, Any], PyJWK]] = []
        for data in response.json().get("keys", []):
            if not isinstance(data, dict) or data.get("use", "sig") != "sig" or data.get("kty") not in _FAMILY.values():
                continue
            try:
                keys.append((data, PyJWK(data)))
            except (jwt.PyJWTError, ValueError, TypeError, KeyError):
                continue  # an unusable key (unknown curve, encryption key): not ours to use
        if not keys:
            raise ValueError("the JWKS holds no signing key")
        return keys

    async def aclose(self) -> None:
        if self._client is not None and self._own_client:
            await self._client.aclose()
        self._client = None


@dataclass
class OidcVerifier:
    issuer: str
    audience: str
    jwks: JwksCache
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    roles_claim: str = "roles"
    leeway_s: int = 30

    async def principal(self, token: str, alg: str, kid: str | None) -> Principal:
        return principal_from_claims(await self.claims(token, alg, kid), roles_claim=self.roles_claim)

    async def claims(self, token: str, alg: str, kid: str | None) -> dict[str, Any]:
        if alg not in self.algorithms:
            raise unauthorized(f"invalid token: algorithm {alg} is not accepted")
        key = await self.jwks.key_for(kid, alg)
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=[alg], issuer=self.issuer, audience=self.audience, leeway=self.leeway_s,
                options={"require": _required(self.audience)},
            )
        except _TOKEN_ERRORS as exc:
            raise unauthorized(f"invalid token: {exc}") from exc
        return claims


@dataclass(kw_only=True, eq=False)
class TokenVerifier:
    """What a service trusts: its OIDC provider, and the HS256 dev issuer in local/test only."""

    audience: str
    oidc: OidcVerifier | None = None
    dev_secret: str | None = None
    dev_issuer: str = "groupsuite"
    leeway_s: int = 30
    #: Tokens verified lately (`VerifiedTokens`): a repeated token is not verified again until then.
    verified: VerifiedTokens = field(default_factory=VerifiedTokens)

    @classmethod
    def from_settings(cls, settings: ServiceSettings, *, client: httpx.AsyncClient | None = None) -> TokenVerifier:
        oidc = None
        if settings.oidc_issuer:
            jwks = JwksCache(
                settings.oidc_issuer, discovery_url=settings.oidc_discovery_url, ttl_s=settings.oidc_jwks_ttl_s,
                min_refresh_s=settings.oidc_jwks_min_refresh_s, timeout_s=settings.oidc_http_timeout_s, client=client,
            )
            oidc = OidcVerifier(
                settings.oidc_issuer, settings.audience, jwks, algorithms=tuple(settings.oidc_algorithms),
                roles_claim=settings.oidc_roles_claim, leeway_s=settings.oidc_leeway_s,
            )
        return cls(
            audience=settings.audience, oidc=oidc,
            dev_secret=settings.jwt_secret if settings.dev_environment else None,
            dev_issuer=settings.jwt_issuer, leeway_s=settings.oidc_leeway_s,
        )

    async def principal(self, authorization: str | None) -> Principal:
        token = _bearer(authorization)
        keys = self._keys_in_use()
        if keys is not None and (known := self.verified.get(token, keys)) is not None:
            return known
        try:
            header = jwt.get_unverified_header(token)
        except _TOKEN_ERRORS as exc:
            raise unauthorized(f"invalid token: {exc}") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or (kid is not None and not isinstance(kid, str)):
            raise unauthorized("invalid token: malformed header")
        if alg == "HS256" and self.dev_secret is not None:
            claims = _dev_claims(token, secret=self.dev_secret, issuer=self.dev_issuer, audience=self.audience,
                                 leeway=self.leeway_s)
            principal = principal_from_claims(claims)
        elif self.oidc is not None:
            claims = await self.oidc.claims(token, alg, kid)
            principal = principal_from_claims(claims, roles_claim=self.oidc.roles_claim)
        else:
            raise unauthorized(f"invalid token: algorithm {alg} is not accepted")
        # The keys it verified with: no await between the key's lookup (which may fetch) and here.
        if (keys := self._keys_in_use()) is not None:
            self.verified.put(token, principal, claims, keys)
        return principal

    def _keys_in_use(self) -> int | None:
        """What verified tokens are remembered against: the JWKS generation, or None while the JWKS is
        older than its TTL (nothing is served from memory then: the next check fetches the keys)."""
        if self.oidc is None:
            return 0
        return self.oidc.jwks.generation if self.oidc.jwks.fresh() else None

    async def aclose(self) -> None:
        if self.oidc is not None:
            await self.oidc.jwks.aclose()
