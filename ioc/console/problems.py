"""Errors as RFC 9457 problem details (`application/problem+json`), for every route: a `type`
that names the problem, a `title`, the HTTP `status`, and a `detail` for this occurrence."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://ioc.lamdong.gov.vn/problems/"

TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    415: "Unsupported media type",
    422: "Invalid request",
    503: "Service unavailable",
    504: "Not applied in time",
}


class ProblemDetail(BaseModel):
    type: str = Field(description="A URI naming the problem.")
    title: str
    status: int
    detail: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="For invalid requests: each invalid parameter and why."
    )


class Problem(Exception):
    def __init__(
        self,
        status: int,
        kind: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail or kind)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.headers = headers
        self.errors = errors

    def response(self) -> JSONResponse:
        body = ProblemDetail(
            type=TYPE_BASE + self.kind,
            title=TITLES.get(self.status, "Error"),
            status=self.status,
            detail=self.detail,
            errors=self.errors,
        )
        return JSONResponse(
            body.model_dump(exclude_none=True),
            status_code=self.status,
            media_type=MEDIA_TYPE,
            headers=self.headers,
        )


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problems a route may answer."""
    return {
        s: {
            "model": ProblemDetail,
            "description": TITLES.get(s, "Error"),
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}},
        }
        for s in statuses
    }


def install(app: FastAPI) -> None:
    async def problem(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return exc.response()

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        kinds = {404: "not-found", 405: "method-not-allowed", 401: "not-authenticated"}
        return Problem(
            exc.status_code,
            kinds.get(exc.status_code, "http-error"),
            str(exc.detail) if exc.detail else None,
            headers=dict(exc.headers) if exc.headers else None,
        ).response()

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "why": e.get("msg", "")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['where']}: {e['why']}" for e in errors[:5])
        return Problem(422, "invalid-request", detail, errors=errors).response()

    app.add_exception_handler(Problem, problem)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
