"""Every error leaves as {"error": {"code", "message", "details"?}}: one place renders it."""

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException

from campaign_dispatch.errors import (
    AppError,
    MalformedJson,
    ServiceUnavailable,
    ValidationFailed,
)

log = structlog.get_logger(__name__)

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}


def envelope(
    status_code: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=status_code, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def error_response(exc: AppError) -> JSONResponse:
    """An AppError as the envelope; also for middleware that answers before routing."""
    return envelope(exc.status_code, exc.code, exc.message, exc.details, exc.headers)


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_response(exc)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(MalformedJson("The request body is not valid JSON"))
    details = [{"field": _field(tuple(e["loc"])), "message": e["msg"]} for e in errors]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return error_response(ValidationFailed(f"Invalid request: {summary}", details=details))


def http_error_response(exc: HTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").capitalize()
    if exc.status_code == 404 and message == "Not Found":
        message = "No such route"
    return envelope(exc.status_code, code, message, headers=dict(exc.headers or {}))


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return http_error_response(exc)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable", path=request.url.path, error=repr(exc)[:300])
    return error_response(
        ServiceUnavailable(
            "The database is unavailable; try again shortly", headers={"Retry-After": "5"}
        )
    )


async def _invalid_data(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database rejected the data", path=request.url.path, error=repr(exc)[:300])
    return error_response(ValidationFailed("The database rejected a value in this request"))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", path=request.url.path, method=request.method)
    return error_response(AppError("An unexpected error occurred"))


def install(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    for unavailable in (OperationalError, InterfaceError, OSError, TimeoutError):
        app.add_exception_handler(unavailable, _database_unavailable)
    app.add_exception_handler(DataError, _invalid_data)
    app.add_exception_handler(Exception, _unexpected_error)
