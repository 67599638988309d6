"""Every error leaves as {"error": {"code", "message", "details"?}}: one place renders it."""

import itertools
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from campaign_dispatch.api.paths import route_path
from campaign_dispatch.errors import (
    ROUTING_ERRORS,
    AppError,
    BadRequest,
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
    403: "A browser sent this state-changing request for a page of another site",
    404: "No such resource (or route)",
    409: "The resource is not in a state that allows this",
    413: "The request body is too large",
    415: "Unsupported content type",
    421: "The Host header names a host this server does not answer for (ALLOWED_HOSTS)",
    422: f"Invalid input; `details` names each field (at most {MAX_ERROR_DETAILS})",
    429: "Rate limited; see Retry-After",
    500: "Unexpected error",
    503: "A dependency (database) is unavailable; see Retry-After",
}


BODY_ERRORS = (413, 415)
"""What RequestLimits answers, before routing, on every operation that takes a body: too
large, or not the one content type the operation takes."""


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


_JSON_NOT_PARSED = "There was an error parsing the body"
"""FastAPI's 400 for a JSON body that json.loads failed on other than with a JSONDecodeError:
bytes that are not UTF-8, nesting too deep."""


def _unparsed_body(exc: HTTPException) -> AppError:
    """The 400s FastAPI and Starlette raise for a body they could not parse, as the 422s
    the API answers every other malformed body with."""
    if exc.detail == _JSON_NOT_PARSED:
        return MalformedJson("The request body is not valid JSON")
    # Starlette's form parser: a multipart body without a boundary, a broken part, …
    reason = _short(str(exc.detail)) if exc.detail else "it is malformed"
    return ValidationFailed(
        f"The request body is not a valid form: {reason}",
        details=[{"field": "body", "message": reason}],
    )


def _allowed_methods(request: Request) -> str | None:
    """Every method some route takes at this path, for a 405's Allow header.

    Starlette names only the methods of the first route whose path matched, so /campaigns
    (GET and POST are two routes) would answer `Allow: POST` alone.
    """
    path = route_path(request.scope)
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        pattern = getattr(route, "path_regex", None)
        if route.methods and pattern is not None and pattern.match(path):
            methods.update(route.methods)
    return ", ".join(sorted(methods)) or None


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400:  # raised only by the body parsers, nowhere in our code
        return error_response(_unparsed_body(exc))
    error = routing_error(exc)
    if exc.status_code == 405 and (allowed := _allowed_methods(request)):
        error.headers = {**(error.headers or {}), "Allow": allowed}
    return error_response(error)


# What a driver raises when the connection itself failed: the server closed it, refused
# it, is shutting down or has no slot for us, or the socket broke. Only these (and an
# invalidated connection, or no pooled connection in time) are worth a retry, so only
# these are a 503; any other driver error (a statement the server rejects, too many bind
# parameters) is a bug, a 500.
_CONNECTION_FAILURES: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08, and a connection that is gone
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


def is_connection_failure(exc: BaseException) -> bool:
    """Whether a database error means the connection failed, not the statement."""
    if isinstance(exc, DatabaseUnreachable | PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    # SQLAlchemy wraps the driver's error (asyncpg's behind an adapter, raised `from` it):
    # follow the explicit causes only, not whatever was being handled at the time.
    seen: set[int] = set()
    cause: BaseException | None = exc.orig
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, _CONNECTION_FAILURES):
            return True
        seen.add(id(cause))
        cause = cause.__cause__
    return False


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if not is_connection_failure(exc):
        return await _unexpected_error(request, exc)
    log.warning("database unavailable", path=request.url.path, error=repr(exc)[:300])
    return error_response(
        ServiceUnavailable(
            "The database is unavailable; try again shortly", headers={"Retry-After": "5"}
        )
    )


async def _invalid_data(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database rejected the data", path=request.url.path, error=repr(exc)[:300])
    return error_response(ValidationFailed("The database rejected a value in this request"))


async def _client_gone(request: Request, exc: Exception) -> JSONResponse:
    """The client closed the connection before it had sent its body: nothing was done,
    and no one will read the answer. Not a server error (a provider that gave up on a
    webhook retries it)."""
    log.info("client disconnected before its request was read", path=request.url.path)
    return error_response(BadRequest("The request's body did not arrive: the client went away"))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", path=request.url.path, method=request.method)
    return error_response(AppError("An unexpected error occurred"))


def install(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    # Database errors only, and of those only a failed connection is a 503
    # (is_connection_failure): an OSError or TimeoutError raised by anything else (a file,
    # a provider) is a bug to see as a 500, not a retryable 503.
    for database_error in (DBAPIError, PoolTimeout, DatabaseUnreachable):
        app.add_exception_handler(database_error, _database_error)
    app.add_exception_handler(DataError, _invalid_data)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _unexpected_error)
