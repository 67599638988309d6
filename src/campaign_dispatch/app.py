"""The ASGI application: create_app() wires routes, errors, the process's resources and,
where this process runs them, its background services."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from starlette.types import ASGIApp

from campaign_dispatch.api import (
    campaigns,
    control,
    customers,
    dispatch,
    docs,
    errors,
    events,
    health,
    ops,
    templates,
    webhooks,
)
from campaign_dispatch.api.cross_site import STATE_CHANGING, CrossSiteWrites
from campaign_dispatch.api.headers import SecurityHeaders
from campaign_dispatch.api.hosts import AllowedHosts, allowed_hosts
from campaign_dispatch.api.limits import RequestLimits
from campaign_dispatch.api.rate_limit import SendRateLimit
from campaign_dispatch.api.request_context import QUIET_PATHS, RequestContext
from campaign_dispatch.api.security import require_api_key
from campaign_dispatch.api.static import Dashboard, dashboard_available
from campaign_dispatch.background import BackgroundServices, Role
from campaign_dispatch.config import Settings, get_settings
from campaign_dispatch.resources import Resources

DESCRIPTION = """Create personalized SMS and WhatsApp campaigns, preview them for a customer,
and send them through a queue to a (mock) provider. Every error uses the envelope
`{"error": {"code": "UPPER_SNAKE", "message": "…", "details": [...]}}`."""


class _App(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # Outermost, even outside Starlette's ServerErrorMiddleware: a 500 then carries its
        # X-Request-ID and the security headers too, and the error's log line the request id.
        return RequestContext(SecurityHeaders(super().build_middleware_stack()))


def create_app(
    settings: Settings | None = None,
    resources: Resources | None = None,
    roles: frozenset[Role] | None = None,
    on_background_failure: Callable[[], None] | None = None,
) -> FastAPI:
    """The API; `roles` are the background services this process also runs.

    By default: all of them without a broker (the embedded mode has no other process
    to do the work), none with one (workers and schedulers run apart). Given
    `resources`, the caller owns them and any background services (tests); otherwise
    the lifespan creates, starts and closes both. A background service that dies calls
    `on_background_failure` (the CLI stops the server and exits non-zero).
    """
    settings = settings or get_settings()
    if roles is None:
        roles = frozenset() if settings.amqp_url else frozenset(Role)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if resources is not None:
            yield
            return
        app.state.resources = owned = Resources.create(settings)
        background = BackgroundServices(owned)
        if on_background_failure is not None:
            background.supervisor.on_failure(on_background_failure)
        try:
            await background.start(roles or frozenset())
            yield
        finally:
            await background.stop()
            await owned.close()

    app = _App(
        title="Campaign Dispatch",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        responses=errors.error_responses(500),
    )
    if resources is not None:
        app.state.resources = resources
    errors.install(app)
    keys = settings.api_key_set
    protected = [Depends(require_api_key(keys))] if keys else []
    api_errors = errors.error_responses(*((401,) if keys else ()), 422, 503)
    for module in (campaigns, events, control, dispatch, customers, templates):
        app.include_router(module.router, dependencies=protected, responses=api_errors)
    for module in (health, ops, webhooks):
        app.include_router(module.router)
    docs.install(app, settings.web_dist_dir)
    app.add_middleware(
        RequestLimits,
        max_body_bytes=settings.max_body_bytes,
        max_import_bytes=settings.max_import_bytes,
    )
    if settings.send_rate_limit_per_minute:
        app.add_middleware(
            SendRateLimit, per_minute=settings.send_rate_limit_per_minute, api_keys=keys
        )
    if dashboard_available(settings.web_dist_dir):
        app.add_middleware(Dashboard, dist=settings.web_dist_dir, routes=lambda: app.routes)
    # Outermost of the app's own middleware: neither a rebound page's request (the Host
    # check) nor another site's form post reaches the dashboard, the limits or a route.
    app.add_middleware(CrossSiteWrites)
    hosts = allowed_hosts(settings.allowed_hosts, has_api_keys=bool(keys))
    if hosts is not None:
        app.add_middleware(AllowedHosts, allowed=hosts)
    _document_browser_refusals(app)
    return app


def _document_browser_refusals(app: FastAPI) -> None:
    """The OpenAPI document lists the refusals of the Host check (421, every route but the
    probes, since ALLOWED_HOSTS is the deployment's choice) and of CrossSiteWrites (403,
    every state-changing operation)."""
    generate = app.openapi
    envelope = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
    refusals = {
        status: {"description": spec["description"], "content": envelope}
        for status, spec in errors.error_responses(403, 421).items()
    }

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            for path, operations in document.get("paths", {}).items():
                for method, operation in operations.items():
                    responses = operation.setdefault("responses", {})
                    if method.upper() in STATE_CHANGING:
                        responses.setdefault("403", refusals[403])
                    if path not in QUIET_PATHS:
                        responses.setdefault("421", refusals[421])
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]
