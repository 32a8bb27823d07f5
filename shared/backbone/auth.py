"""Bearer JWT auth with the suite's roles. Keys come from the environment (JWT_SECRET)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import jwt

from backbone.problems import Problem
from backbone.vocabulary import TOKEN_ROLES


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str] = field(default_factory=frozenset)
    name: str | None = None

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


def issue_token(
    subject: str, roles: list[str], *, secret: str, issuer: str = "groupsuite", ttl_s: int = 8 * 3600,
    name: str | None = None,
) -> str:
    now = int(time.time())
    claims = {"sub": subject, "roles": roles, "iss": issuer, "iat": now, "exp": now + ttl_s}
    if name:
        claims["name"] = name
    return jwt.encode(claims, secret, algorithm="HS256")


def decode_token(authorization: str | None, *, secret: str, issuer: str = "groupsuite") -> Principal:
    unauthorized = {"WWW-Authenticate": "Bearer"}
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Problem(401, "Unauthorized", "a bearer token is required", headers=unauthorized)
    try:
        claims = jwt.decode(authorization[7:].strip(), secret, algorithms=["HS256"], issuer=issuer)
    except jwt.PyJWTError as exc:
        raise Problem(401, "Unauthorized", f"invalid token: {exc}", headers=unauthorized) from exc
    roles = frozenset(r for r in claims.get("roles", []) if r in TOKEN_ROLES)
    return Principal(subject=str(claims["sub"]), roles=roles, name=claims.get("name"))


def require(principal: Principal, *roles: str) -> Principal:
    if not principal.has(*roles):
        raise Problem(403, "Forbidden", f"requires one of the roles: {', '.join(roles)}")
    return principal
