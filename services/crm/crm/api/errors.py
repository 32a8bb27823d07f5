"""Domain errors → RFC 9457 problem+json (an illegal lifecycle step is 409 Conflict)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from backbone.problems import problem_response
from crm.domain.errors import DomainError
from crm.domain.lifecycle import IllegalTransition, InvalidSatisfaction, OrderCreationNotAllowed


def install_domain_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        if isinstance(exc, IllegalTransition):
            return problem_response(
                request, 409, "Illegal transition", exc.message, type_="about:blank",
                errors=[{"field": "status", "message": exc.message}], code=exc.code,
                entity=exc.entity or None, from_state=exc.from_state, action=exc.action,
            )
        if isinstance(exc, OrderCreationNotAllowed):
            return problem_response(request, 409, "Conflict", exc.message, code=exc.code,
                                    errors=[{"field": "opportunity_id", "message": exc.message}])
        if isinstance(exc, InvalidSatisfaction):
            return problem_response(request, 422, "Invalid request", exc.message, code=exc.code,
                                    errors=[{"field": "satisfaction", "message": exc.message}])
        return problem_response(request, 422, "Invalid request", exc.message, code=exc.code)
