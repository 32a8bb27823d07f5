"""RFC 9457 problem details: every error a gateway returns, with the field that is wrong."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from backbone.errors import DomainError, ErrorKind

PROBLEM_JSON = "application/problem+json"

# The one mapping of the domain's error kinds to HTTP (use cases never name a status).
STATUS_OF_KIND: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.UNAVAILABLE: 503,
}
_TITLES = {401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed", 409: "Conflict",
           422: "Invalid request", 503: "Service unavailable"}


class Problem(Exception):
    """Raise from the API layer (never from a use case) to answer with problem+json."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type_: str = "about:blank",
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        self.errors = errors
        self.headers = headers


def field_error(field: str, message: str, status: int = 422) -> Problem:
    return Problem(status, "Invalid request", f"{field}: {message}", errors=[{"field": field, "message": message}])


def problem_response(
    request: Request, status: int, title: str, detail: str | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": extra.pop("type_", "about:blank"), "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body["instance"] = request.url.path
    body.update({k: v for k, v in extra.items() if v is not None and k != "headers"})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=extra.get("headers"))


def _loc_to_field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or parts
    return ".".join(parts)


def domain_error_response(request: Request, exc: DomainError) -> JSONResponse:
    status = STATUS_OF_KIND[exc.kind]
    extra = {k: v for k, v in exc.extra.items() if k not in ("type_", "headers", "title", "status", "detail")}
    return problem_response(
        request, status, exc.title or _TITLES.get(status, "Error"), exc.message,
        errors=exc.errors, code=exc.code, **extra,
    )


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            request, exc.status, exc.title, exc.detail, type_=exc.type, errors=exc.errors, headers=exc.headers
        )

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return domain_error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _loc_to_field(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem_response(request, 422, "Invalid request", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            request, exc.status_code, _TITLES.get(exc.status_code, "Error"), str(exc.detail),
            headers=getattr(exc, "headers", None),
        )
