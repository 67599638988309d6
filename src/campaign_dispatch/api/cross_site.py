"""Refuses state-changing requests that a page of another site has a browser send.

A page anywhere can make the operator's browser POST a form to this API (forms need no
CORS preflight) — to POST /customers/import, say — and with no API_KEYS nothing else
would stop it. Browsers say where a request comes from: `Sec-Fetch-Site` (`cross-site`
is refused; `same-origin`, and `none`, a request the user made, pass), and `Origin`,
refused when it is not this request's own host — checked where `Sec-Fetch-Site` is
missing (older browsers) and where it says `same-site`: a site ignores the port, so a page
another program serves on 127.0.0.1:3000 is `same-site` to this one on 127.0.0.1:8000.
POST, PUT, PATCH and DELETE are checked; a client that is not a browser sends neither
header and is not affected. The answer is 403 CROSS_SITE_REQUEST.
"""

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from campaign_dispatch.api.errors import error_response
from campaign_dispatch.errors import CrossSiteRequest

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _authority(scheme: str, host: str, port: int | None) -> str:
    return host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"


def origin_matches_host(origin: str, host_header: str) -> bool:
    """Whether `origin` (scheme://host[:port]) names the host and port of `host_header`."""
    try:
        parts = urlsplit(origin)
        origin_port = parts.port
        target = urlsplit(f"//{host_header}")
        target_port = target.port
    except ValueError:  # a port that is not a number
        return False
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or not target.hostname:
        return False  # `null` (a sandboxed or file: page) and anything malformed
    scheme = parts.scheme
    return _authority(scheme, parts.hostname, origin_port) == _authority(
        scheme, target.hostname, target_port
    )


def cross_site_reason(method: str, headers: Headers) -> str | None:
    """Why this request is refused as cross-site, or None."""
    if method not in STATE_CHANGING:
        return None
    fetch_site = (headers.get("sec-fetch-site") or "").strip().lower()
    if fetch_site == "cross-site":
        return "The browser says another site's page sent this request (Sec-Fetch-Site)"
    if fetch_site in ("same-origin", "none"):
        return None
    origin = headers.get("origin")
    if origin is not None and not origin_matches_host(origin, headers.get("host", "")):
        return "The request comes from a page of another origin (Origin)"
    return None


class CrossSiteWrites:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        reason = cross_site_reason(scope["method"], Headers(scope=scope))
        if reason is None:
            await self.app(scope, receive, send)
            return
        response = error_response(
            CrossSiteRequest(f"{reason}; state-changing requests must come from this site")
        )
        await response(scope, receive, send)
