"""Request hygiene before routing: what content types a body may have, and how large.

Every body-carrying route takes JSON only, except the CSV import, which takes a form
(multipart, or URL-encoded) only. Forms and text/plain are what a page on another site
can post without a CORS preflight; when no API_KEYS are set nothing else would stop such
a post, so the one route that needs a form is the only one that accepts it. Provider
webhooks (/webhooks/…) take whatever their provider posts: each verifies its provider's
signature or token before reading anything, which a page on another site cannot forge.

Bodies are limited to MAX_BODY_BYTES, the import's to MAX_IMPORT_BYTES.
"""

from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from campaign_dispatch.api.errors import error_response
from campaign_dispatch.api.paths import IMPORT_PATH, WEBHOOKS_PREFIX, route_path
from campaign_dispatch.errors import PayloadTooLarge, UnsupportedMediaType

_BODY_METHODS = {"POST", "PUT", "PATCH"}
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class _TooLarge(HTTPException):
    """An HTTPException, so that FastAPI passes it on instead of making it a 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large_message(limit))


def _too_large_message(limit: int) -> str:
    return f"The request body exceeds {limit} bytes"


class RequestLimits:
    def __init__(
        self, app: ASGIApp, max_body_bytes: int, max_import_bytes: int | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_import_bytes = max_import_bytes or max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        is_import = scope["method"] == "POST" and path == IMPORT_PATH
        limit = self.max_import_bytes if is_import else self.max_body_bytes
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            await self._too_large(limit, scope, receive, send)
            return
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        has_body = declared not in (None, "0") or "transfer-encoding" in headers
        acceptable = (
            content_type in _FORM_TYPES if is_import else _is_json(content_type)
        ) or path.startswith(WEBHOOKS_PREFIX)
        # Where no route takes this method at this path, the router's 404 or 405 is the
        # answer whatever the body's type: that body is never read.
        if has_body and not acceptable and _routed(scope):
            wanted = (
                "Send the CSV as multipart/form-data with a `file` field"
                if is_import
                else "Send JSON (Content-Type: application/json)"
            )
            response = error_response(
                UnsupportedMediaType(f"{wanted}, not {content_type or 'no type'}")
            )
            await response(scope, receive, send)
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._too_large(limit, scope, receive, send)

    async def _too_large(self, limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(PayloadTooLarge(_too_large_message(limit)))
        await response(scope, receive, send)


def _routed(scope: Scope) -> bool:
    """Whether a route of the app takes this method at this path (as the router decides)."""
    router = getattr(scope.get("app"), "router", None)
    if router is None:  # not under a Starlette app: nothing to ask, keep the check
        return True
    return any(route.matches(scope)[0] is Match.FULL for route in router.routes)


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")
