"""RFC 9457 problem details: every error a gateway returns, with the field that is wrong.

The last-resort handlers (`install_problem_handlers`) turn what escapes a route into a problem that
says nothing of the internals: a database data error (a value too long, out of range, not valid
text) is 422, an integrity error 409, an unreachable or overloaded database 503 with Retry-After,
anything else 500. The exception itself is logged (masked, with no bound parameters: see
`backbone.db.make_engine`), never sent.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from backbone import tmf
from backbone.errors import DomainError, ErrorKind

log = logging.getLogger("backbone.problems")

PROBLEM_JSON = "application/problem+json"
#: Seconds a client is told to wait when the database is unavailable (settings may change it).
DEFAULT_RETRY_AFTER_S = 5

# The one mapping of the domain's error kinds to HTTP (use cases never name a status).
STATUS_OF_KIND: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.UNAVAILABLE: 503,
}
_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
           409: "Conflict", 413: "Content too large", 415: "Unsupported media type", 422: "Invalid request",
           500: "Internal error", 503: "Service unavailable"}


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
    if tmf.is_tmf_path(request.url.path):  # a TM Forum face answers the TMF630 `Error` instead
        return tmf.error_response(status, title, detail, code=extra.get("code"), errors=extra.get("errors"),
                                  headers=extra.get("headers"))
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


# SQLSTATE classes (PostgreSQL appendix A) -> status: the client's data, a conflict with stored data,
# or the database not able to serve now.
_STATUS_OF_SQLSTATE_CLASS = {"22": 422, "23": 409, "54": 422, "08": 503, "40": 503, "53": 503, "57": 503, "58": 503}
_UNAVAILABLE_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, sa_exc.DisconnectionError,
                       ConnectionError, TimeoutError)


def _sqlstate(exc: BaseException) -> str | None:
    for candidate in (getattr(exc, "orig", None), getattr(getattr(exc, "orig", None), "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str) and len(code) == 5:
            return code
    return None


def status_of_database_error(exc: BaseException) -> int:
    """422, 409 or 503 for what the database refused or could not do; 500 for a bug."""
    code = _sqlstate(exc)
    if code in ("23502", "23514"):  # not null, check: the client's data
        return 422
    if code and code[:2] in _STATUS_OF_SQLSTATE_CLASS:
        return _STATUS_OF_SQLSTATE_CLASS[code[:2]]
    if isinstance(exc, sa_exc.DataError):
        return 422
    if isinstance(exc, sa_exc.IntegrityError):
        return 409
    if isinstance(exc, _UNAVAILABLE_ERRORS) or (
        isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated
    ) or isinstance(exc, OSError):
        return 503
    return 500


_DETAIL_OF_STATUS = {
    409: "the change conflicts with data already stored",
    422: "a value is out of range, too long or not valid for its field",
    500: "an internal error occurred; it has been logged",
    503: "the database is unavailable; retry later",
}


def database_error_response(request: Request, exc: BaseException, retry_after_s: int) -> JSONResponse:
    status = status_of_database_error(exc)
    if status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__, exc_info=exc)
    else:
        log.info("%s %s refused by the database (%s, sqlstate %s)", request.method, request.url.path,
                 type(exc).__name__, _sqlstate(exc))
    headers = {"Retry-After": str(retry_after_s)} if status == 503 else None
    return problem_response(request, status, _TITLES[status], _DETAIL_OF_STATUS[status], headers=headers)


def install_problem_handlers(app: FastAPI, *, retry_after_s: int = DEFAULT_RETRY_AFTER_S) -> None:
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

    @app.exception_handler(sa_exc.SQLAlchemyError)
    async def _database(request: Request, exc: sa_exc.SQLAlchemyError) -> JSONResponse:
        return database_error_response(request, exc, retry_after_s)

    @app.exception_handler(OSError)
    async def _unreachable(request: Request, exc: OSError) -> JSONResponse:
        # Connection refused / reset / timed out: the database (or another dependency) is down.
        return database_error_response(request, exc, retry_after_s)

    @app.exception_handler(RecursionError)
    async def _too_deep(request: Request, exc: RecursionError) -> JSONResponse:
        # A JSON body nested deeper than the parser goes.
        return problem_response(request, 422, "Invalid request", "the request body is nested too deeply")

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        # The last resort (Starlette's ServerErrorMiddleware calls it): no traceback, no internals.
        if isinstance(exc, sa_exc.SQLAlchemyError | OSError):
            return database_error_response(request, exc, retry_after_s)
        log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__, exc_info=exc)
        return problem_response(request, 500, "Internal error", _DETAIL_OF_STATUS[500])
