"""Request hygiene before routing: JSON bodies must say so, and bodies have a size limit."""

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from campaign_dispatch.api.errors import error_response
from campaign_dispatch.errors import PayloadTooLarge, UnsupportedMediaType

_BODY_METHODS = {"POST", "PUT", "PATCH"}


class _TooLarge(HTTPException):
    """An HTTPException, so that FastAPI passes it on instead of making it a 400."""

    def __init__(self, max_body_bytes: int) -> None:
        super().__init__(413, _too_large_message(max_body_bytes))


def _too_large_message(max_body_bytes: int) -> str:
    return f"The request body exceeds {max_body_bytes} bytes"


class RequestLimits:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        has_body = declared not in (None, "0") or "transfer-encoding" in headers
        if has_body and not _acceptable(content_type):
            response = error_response(
                UnsupportedMediaType(
                    f"Send JSON (Content-Type: application/json), not {content_type or 'no type'}"
                )
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
                if received > self.max_body_bytes:
                    raise _TooLarge(self.max_body_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(PayloadTooLarge(_too_large_message(self.max_body_bytes)))
        await response(scope, receive, send)


def _acceptable(content_type: str) -> bool:
    return content_type in ("application/json", "multipart/form-data") or content_type.endswith(
        "+json"
    )
