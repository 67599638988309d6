"""Every error leaves as {"error": {"code", "message", "details"?}}: one place renders it."""

import itertools
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException

from campaign_dispatch.errors import (
    ROUTING_ERRORS,
    AppError,
    DatabaseUnreachable,
    MalformedJson,
    ServiceUnavailable,
    UnexpectedHttpStatus,
    ValidationFailed,
)
from campaign_dispatch.schemas.common import MAX_ERROR_DETAILS, ErrorEnvelope, more_not_shown

log = structlog.get_logger(__name__)

_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing or invalid API key",
    404: "No such resource (or route)",
    409: "The resource is not in a state that allows this",
    413: "The request body is too large",
    415: "Unsupported content type",
    422: f"Invalid input; `details` names each field (at most {MAX_ERROR_DETAILS})",
    429: "Rate limited; see Retry-After",
    500: "Unexpected error",
    503: "A dependency (database) is unavailable; see Retry-After",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these statuses, each with the error envelope as its body."""
    return {
        status: {"model": ErrorEnvelope, "description": _DESCRIPTIONS[status]}
        for status in statuses
    }


def envelope(
    status_code: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    if details and len(details) > MAX_ERROR_DETAILS:  # a safety net: builders cap their own
        message += more_not_shown(len(details), MAX_ERROR_DETAILS)
        details = details[:MAX_ERROR_DETAILS]
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=status_code, headers=headers)


def error_response(exc: AppError) -> JSONResponse:
    """An AppError as the envelope; also for middleware that answers before routing."""
    return envelope(exc.status_code, exc.code, exc.message, exc.details, exc.headers)


def routing_error(exc: HTTPException) -> AppError:
    """Starlette's routing errors (404 no route, 405 wrong method, …) as our own."""
    cls = ROUTING_ERRORS.get(exc.status_code)
    message = exc.detail if isinstance(exc.detail, str) else ""
    if exc.status_code == 404 and message in ("", "Not Found"):
        message = "No such route"
    headers = dict(exc.headers or {})
    if cls is None:  # a status no route of ours raises; keep it rather than make it a 500
        return UnexpectedHttpStatus(exc.status_code, message or "HTTP error", headers)
    return cls(message or cls.code.replace("_", " ").capitalize(), headers=headers)


_MAX_TEXT = 200  # a field name is the caller's text too: an unknown JSON key may be huge


def _short(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return _short(".".join(parts) or "body")


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_response(exc)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(MalformedJson("The request body is not valid JSON"))
    # 100 000 bad ids are 100 000 errors: format only the ones that will be shown.
    details = [
        {"field": _field(tuple(e["loc"])), "message": _short(str(e["msg"]))}
        for e in itertools.islice(errors, MAX_ERROR_DETAILS)
    ]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    if len(errors) > MAX_ERROR_DETAILS:
        summary += (
            f" ({len(errors)} errors; the first {MAX_ERROR_DETAILS} are listed"
            f"{more_not_shown(len(errors), MAX_ERROR_DETAILS)})"
        )
    return error_response(ValidationFailed(f"Invalid request: {summary}", details=details))


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(routing_error(exc))


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
    # The driver's connection-level errors only: an OSError or TimeoutError raised by
    # anything else (a file, a provider) is a bug to see as a 500, not a retryable 503.
    for unavailable in (OperationalError, InterfaceError, DatabaseUnreachable):
        app.add_exception_handler(unavailable, _database_unavailable)
    app.add_exception_handler(DataError, _invalid_data)
    app.add_exception_handler(Exception, _unexpected_error)
