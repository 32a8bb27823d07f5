"""backbone.authz.stamp_rules: a route whose endpoint names its rule first gets no second copy of it in front;
either way the rule is decided before anything else (a 403 before the body is validated)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from backbone.auth import Principal
from backbone.authz import authorize, stamp_rules
from backbone.deps import get_principal
from backbone.problems import install_problem_handlers

AdminDep = Annotated[Principal, authorize("admin")]


class Body(BaseModel):
    n: int


async def _other() -> int:
    return 1


def _app() -> tuple[FastAPI, APIRouter]:
    router = APIRouter()

    @router.post("/first")
    async def first(principal: AdminDep, body: Body) -> dict[str, int]:
        return {"n": body.n}

    @router.post("/second")
    async def second(body: Body, other: Annotated[int, Depends(_other)], principal: AdminDep) -> dict[str, int]:
        return {"n": body.n}

    assert stamp_rules(router.routes) == []
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router)
    return app, router


def test_a_rule_named_first_is_not_put_in_front_again() -> None:
    _, router = _app()
    first, second = router.routes
    assert first.dependencies == []  # type: ignore[attr-defined]
    # another dependency comes first: the rule's is put in front of it
    assert [d.dependency for d in second.dependencies] == [second.dependant.dependencies[1].call]  # type: ignore[attr-defined]


def test_the_rule_is_decided_before_the_body_either_way() -> None:
    app, _ = _app()

    async def not_admin() -> Principal:
        return Principal(subject="u1", roles=frozenset({"account_manager"}))

    app.dependency_overrides[get_principal] = not_admin
    with TestClient(app) as client:
        for path in ("/first", "/second"):
            r = client.post(path, json={"n": "not a number"})
            assert r.status_code == 403, (path, r.text)
