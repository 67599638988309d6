"""The Host check (ALLOWED_HOSTS): a request must name a host this server answers for.

Without API keys anything that reaches the port may drive the API, and the process
listens on loopback only for that reason. A page the operator visits could still get
there: its site rebinds its DNS name to 127.0.0.1, and the browser, treating the page and
the API as one origin, lets it call the API and read the answers. Such requests still
carry the page's own name as their Host, so answering only for loopback names stops them.

ALLOWED_HOSTS is comma-separated host names (`dispatch.example.com`, `*.example.com` for
its subdomains, `*` for any); a port in an entry or in the Host header is ignored. Unset,
it is the loopback names (localhost, 127.0.0.1, [::1]) while API_KEYS is unset, and any
host once keys are set (a rebound page cannot present a key). Any other Host is a 421
HOST_NOT_ALLOWED.

The probe and scrape paths (/health, /ready, /metrics) answer whatever the Host: an
orchestrator and Prometheus reach a replica by its address, not by the name the
dashboard is served under, and those paths neither change anything nor show customers.
"""

from collections.abc import Collection

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from campaign_dispatch.api.errors import error_response
from campaign_dispatch.api.paths import route_path
from campaign_dispatch.api.request_context import QUIET_PATHS
from campaign_dispatch.errors import HostNotAllowed

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
_MAX_SHOWN = 100


def host_name(value: str) -> str:
    """`value` (a Host header or an ALLOWED_HOSTS entry) without its port, lower case.

    `[::1]:8000` → `[::1]`; a bare IPv6 address (an entry written `::1`) is bracketed.
    """
    value = value.strip().lower()
    if value.startswith("["):
        name, end, rest = value.partition("]")
        port = rest.removeprefix(":")
        return name + end if end and (rest == "" or (rest[0] == ":" and port.isdigit())) else value
    if value.count(":") > 1:
        return f"[{value}]"
    name, _, port = value.partition(":")
    return (name if port.isdigit() or not port else value).rstrip(".")


def allowed_hosts(setting: str | None, has_api_keys: bool) -> frozenset[str] | None:
    """The host names to answer for, from ALLOWED_HOSTS; None means any."""
    if setting is None:
        return None if has_api_keys else LOOPBACK_HOSTS
    entries = {host_name(entry) for entry in setting.split(",") if entry.strip()}
    return None if "*" in entries else frozenset(entries)


def is_allowed(host: str, allowed: Collection[str]) -> bool:
    if not host:
        return False
    if host in allowed:
        return True
    return any(pattern.startswith("*.") and host.endswith(pattern[1:]) for pattern in allowed)


class AllowedHosts:
    def __init__(self, app: ASGIApp, allowed: Collection[str]) -> None:
        self.app = app
        self.allowed = frozenset(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_path(scope) in QUIET_PATHS:  # (no websocket routes)
            await self.app(scope, receive, send)
            return
        header = Headers(scope=scope).get("host", "")
        if is_allowed(host_name(header), self.allowed):
            await self.app(scope, receive, send)
            return
        shown = header if len(header) <= _MAX_SHOWN else header[: _MAX_SHOWN - 1] + "…"
        response = error_response(
            HostNotAllowed(
                f"This server does not answer for the host {shown!r}; "
                "list it in ALLOWED_HOSTS to allow it"
                if header
                else "The request has no Host header"
            )
        )
        await response(scope, receive, send)
