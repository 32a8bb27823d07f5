"""Authorization on every route (docs/security.md, item 2): one declared rule per operation.

A route says who may call it with one dependency of this module; the app factory records that rule on
the route (the `x-authz` member of the operation in the OpenAPI document, `stamp_rules`) and runs it
before any other dependency of the route, so a caller outside the rule gets its 401/403 before the
body is validated or anything is read. `tests/security/test_security_rbac.py` builds the RBAC matrix
from the four OpenAPI documents (every operation × every kind of caller) and fails on an operation
without a rule: a new route without one does not pass the build.

    ReaderDep = Annotated[Principal, authorize(SUPERVISOR, ADMIN, NETWORK_STAFF)]

    @router.get("/timers")
    async def list_timers(principal: ReaderDep, ...) -> ...: ...

    @router.get("/healthz", dependencies=[public("liveness probe")])

The rules:

- `public(reason)`: no token at all (health, metrics, the dev token issuer where it exists);
- `authenticated(reason)`: any valid token, the answer being about the caller only (`GET /api/v1/me`);
- `authorize(*roles, scope=, checks=, partners=)`: a valid token holding one of `roles`, else 403. A
  token holding none of the suite's roles holds none of them: it reads nothing. A partner user (a
  token with the `partner` claim, `Principal.partner`) is refused unless `partners=True`, whatever its
  roles; `scope` says which objects the route reaches (another's object answers 404, never 403 or
  data), `checks` which finer 403s the route itself may still answer (an action only an admin may
  force, a queue of a role the token does not work);
- `signed(scheme)`: no bearer token: the request is authenticated by its signature (the EOMS callbacks:
  an HMAC per partner, `eoms_bridge/api/callbacks.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from backbone.auth import Principal
from backbone.deps import get_principal
from backbone.problems import Problem
from backbone.vocabulary import TOKEN_ROLES

Access = Literal["public", "authenticated", "roles", "signed"]
#: The member of an OpenAPI operation that carries its rule.
OPENAPI_MEMBER = "x-authz"
_RULE_ATTRIBUTE = "__backbone_authz_rule__"


@dataclass(frozen=True)
class Rule:
    """Who may call one operation."""

    access: Access
    roles: tuple[str, ...] = ()
    scope: str | None = None  # which objects the route reaches (another's: 404)
    checks: str | None = None  # the finer 403s the route itself may answer
    partners: bool = False  # a partner user may call it (its `scope` then says what of the partner's)
    reason: str | None = None  # why a route is public, authenticated-only or signed

    def document(self) -> dict[str, Any]:
        """The `x-authz` member: what the RBAC matrix test reads back from the OpenAPI document."""
        out: dict[str, Any] = {"access": self.access}
        if self.access == "roles":
            out["roles"] = list(self.roles)
            out["partners"] = self.partners
        for name in ("scope", "checks", "reason"):
            if (value := getattr(self, name)) is not None:
                out[name] = value
        return out

    def admits(self, principal: Principal) -> bool:
        """True when the rule lets `principal` through (the route's own object and action checks follow)."""
        if self.access in ("public", "authenticated"):
            return True
        if self.access == "signed":
            return False
        if principal.partner is not None and not self.partners:
            return False
        return principal.has(*self.roles)


def _mark(dependency: Callable[..., Any], rule: Rule) -> Any:
    setattr(dependency, _RULE_ATTRIBUTE, rule)
    return Depends(dependency)


def public(reason: str) -> Any:
    """No token needed (say why): `@router.get(..., dependencies=[public("liveness probe")])`."""

    async def public_route() -> None:
        return None

    return _mark(public_route, Rule("public", reason=reason))


def authenticated(reason: str) -> Any:
    """Any valid token (say why): the answer is about the caller only."""

    async def authenticated_route(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        return principal

    return _mark(authenticated_route, Rule("authenticated", reason=reason))


def roles_rule(*roles: str, scope: str | None = None, checks: str | None = None, partners: bool = False) -> Rule:
    """The rule `authorize` declares (its arguments are the same)."""
    unknown = [r for r in roles if r not in TOKEN_ROLES]
    if not roles or unknown:
        raise ValueError(f"authorize() takes the suite's token roles {list(TOKEN_ROLES)}, not {list(roles)}")
    return Rule("roles", roles=tuple(dict.fromkeys(roles)), scope=scope, checks=checks, partners=partners)


def admit(rule: Rule, principal: Principal) -> Principal:
    """`principal` if a roles `rule` lets it through, else the 403 `authorize` answers."""
    if principal.partner is not None and not rule.partners:
        raise Problem(403, "Forbidden", "a partner user may not call this operation")
    if not principal.has(*rule.roles):
        raise Problem(403, "Forbidden", f"requires one of the roles: {', '.join(rule.roles)}")
    return principal


def authorize(*roles: str, scope: str | None = None, checks: str | None = None, partners: bool = False) -> Any:
    """A valid token holding one of `roles` (403 otherwise); the dependency's value is the principal."""
    rule = roles_rule(*roles, scope=scope, checks=checks, partners=partners)

    async def authorized_route(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        return admit(rule, principal)

    return _mark(authorized_route, rule)


def authorize_within(dependency: Callable[..., Any], rule: Rule) -> Any:
    """`Depends(dependency)` declaring `rule` for its route: a dependency that resolves the caller itself and
    lets it through by `admit(rule, ...)` before anything else (a hot route's one dependency for its principal,
    session and Idempotency-Key: each dependency FastAPI resolves is a level of its machinery per request,
    issue 16). Named first by the endpoint, so the rule is decided first (`stamp_rules`)."""
    return _mark(dependency, rule)


def signed(scheme: str, verify: Callable[..., Any]) -> Any:
    """Authenticated by a request signature, not a bearer token: `verify` is the dependency that checks it
    (401 when it does not hold); its value is what the route receives."""
    return _mark(verify, Rule("signed", reason=scheme))


# ----------------------------------------------------------------------------------------------------
# The app factory records each route's rule


def rule_of(route: APIRoute) -> Rule | None:
    """The rule a route declares (in its dependencies, as a parameter, or in a dependency's own)."""
    found = {rule for rule in _rules(route.dependant)}
    if len(found) > 1:
        raise ValueError(f"{sorted(route.methods or ())} {route.path} declares {len(found)} authorization rules")
    return next(iter(found), None)


def _rules(dependant: Dependant) -> Iterator[Rule]:
    for sub in dependant.dependencies:
        rule = getattr(sub.call, _RULE_ATTRIBUTE, None)
        if isinstance(rule, Rule):
            yield rule
        yield from _rules(sub)


def _rule_call(dependant: Dependant) -> Callable[..., Any] | None:
    for sub in dependant.dependencies:
        if isinstance(getattr(sub.call, _RULE_ATTRIBUTE, None), Rule):
            return sub.call
    return None


def _first_dependency_is(route: APIRoute, call: Callable[..., Any]) -> bool:
    """The route's first dependency is the rule's already (the endpoint names its principal first): FastAPI
    resolves it before any other, and a second copy in front would be resolved again for nothing (its
    sub-dependencies, header included, then the cache: ~2 % of the CRM's CPU per order, issue 16)."""
    return bool(route.dependant.dependencies) and route.dependant.dependencies[0].call is call


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every APIRoute of `routes`, those of included routers too (FastAPI keeps them on the original router)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (router := getattr(route, "original_router", None)) is not None:
            yield from api_routes(router.routes)


def stamp_rules(routes: Iterable[Any]) -> list[APIRoute]:
    """Record each route's rule in its OpenAPI operation (`x-authz`) and put the rule's dependency first
    among the route's dependencies: authorization is decided before anything else is resolved (a session
    opened, an Idempotency-Key looked up, a body validated; FastAPI resolves it once per request however
    often it is named). Idempotent; call before the router is included. Answers the routes that declare
    no rule (the RBAC matrix test fails on them)."""
    missing: list[APIRoute] = []
    for route in api_routes(routes):
        rule = rule_of(route)
        if rule is None:
            missing.append(route)
            continue
        route.openapi_extra = {**(route.openapi_extra or {}), OPENAPI_MEMBER: rule.document()}
        call = _rule_call(route.dependant)
        if call is not None and not (route.dependencies and route.dependencies[0].dependency is call) \
                and not _first_dependency_is(route, call):
            route.dependencies.insert(0, Depends(call))
    return missing
