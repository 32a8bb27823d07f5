"""backbone.idempotency: the request path in the fingerprint is Starlette's `request.url.path`, whatever it is."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st
from starlette.requests import Request

from backbone.idempotency import _path


@given(st.text(min_size=0, max_size=30).map(lambda s: "/" + s))
@example("/api/v1/orders")
@example("/a?b#c\\d")
@example("/a\tb\r\nc")
@example("//double/slash")
@example("/天津/%20/;x=1")
def test_the_path_is_the_urls(path: str) -> None:
    scope = {"type": "http", "method": "POST", "path": path, "root_path": "", "query_string": b"a=1",
             "headers": [(b"host", b"crm.test")], "server": ("127.0.0.1", 8000), "scheme": "http"}
    assert _path(Request(scope)) == Request(scope).url.path
