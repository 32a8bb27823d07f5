"""backbone.api.first_matched: a hot router matched before the others, the document unchanged."""

from __future__ import annotations

import json

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from backbone.api import _may_overlap, first_matched
from backbone.authz import public, stamp_rules


def _routers() -> tuple[APIRouter, APIRouter, APIRouter]:
    things, orders, items = APIRouter(prefix="/things"), APIRouter(prefix="/orders"), APIRouter(prefix="/items")

    @things.get("/{thing_id}", dependencies=[public("test")])
    async def thing(thing_id: str) -> dict[str, str]:
        return {"thing": thing_id}

    @orders.post("", status_code=201, dependencies=[public("test")])
    async def create_order() -> dict[str, str]:
        return {"order": "new"}

    @orders.get("/{order_id}", dependencies=[public("test")])
    async def order(order_id: str) -> dict[str, str]:
        return {"order": order_id}

    @items.get("/mine", dependencies=[public("test")])
    async def mine() -> dict[str, str]:
        return {"items": "mine"}

    return things, orders, items


def _app(hot: bool) -> FastAPI:
    app = FastAPI(title="t", version="1")
    declared = list(_routers())
    if hot:
        first_matched(app, declared[1], declared)
    for router in declared:  # as backbone.api.create_service_app includes them
        stamp_rules(router.routes)
        app.include_router(router)
    return app


def test_the_hot_router_is_matched_first_and_the_document_is_unchanged() -> None:
    plain, hot = _app(hot=False), _app(hot=True)
    assert json.dumps(hot.openapi()) == json.dumps(plain.openapi())  # the same paths, in the same order
    assert list(hot.openapi()["paths"]) == ["/things/{thing_id}", "/orders", "/orders/{order_id}", "/items/mine"]
    first = next(r for r in hot.router.routes if getattr(r, "original_router", None) is not None)
    assert first.original_router.prefix == "/orders"  # type: ignore[attr-defined]
    with TestClient(hot) as client:
        assert client.post("/orders").json() == {"order": "new"}
        assert client.get("/orders/o1").json() == {"order": "o1"}
        assert client.get("/things/t1").json() == {"thing": "t1"}
        assert client.get("/items/mine").json() == {"items": "mine"}


def test_a_router_an_earlier_route_could_answer_is_not_hoisted() -> None:
    app = FastAPI()
    catch_all, narrow = APIRouter(prefix="/x"), APIRouter(prefix="/x")

    @catch_all.get("/{anything}", dependencies=[public("test")])
    async def anything(anything: str) -> None: ...

    @narrow.get("/me", dependencies=[public("test")])
    async def me() -> None: ...

    with pytest.raises(ValueError, match="may not be matched before"):
        first_matched(app, narrow, [catch_all, narrow])
    with pytest.raises(ValueError, match="one of the app's routers"):
        first_matched(app, narrow, [catch_all])


@pytest.mark.parametrize(("a", "b", "overlap"), [
    ("/x/{a}/z", "/x/y/{b}", True),  # both answer /x/y/z
    ("/x/{a}", "/x/me", True),
    ("/files/{p:path}", "/files/a/b", True),
    ("/x/y", "/x/y/z", False),
    ("/orders/{id}", "/things/{id}", False),
    ("/x/a{id}", "/x/b", True),  # a parameter among text: taken as a parameter (refuses more, never less)
    ("/", "/", True),
])
def test_paths_that_one_url_could_match_overlap(a: str, b: str, overlap: bool) -> None:
    assert _may_overlap(a, b) is overlap
    assert _may_overlap(b, a) is overlap
