"""Security headers on every response: API answers, dashboard files and errors alike.

The Content-Security-Policy fits the built dashboard: its index.html loads one script and
one stylesheet from /assets and has no inline script or style (React's `style` props are
set through the DOM, which CSP allows); its icon is a `data:` SVG. Nothing may frame a
page (`frame-ancestors 'none'`, and X-Frame-Options for browsers older than CSP 2), no
plugin may load, and no form may post anywhere but here. A route that needs another
policy (the Swagger UI page, which starts with an inline script) sets its own header:
headers a response already has are kept.

The middleware sits outside everything else in the app, Starlette's ServerErrorMiddleware
included, so a 500 carries the headers too.
"""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
