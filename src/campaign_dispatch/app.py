"""The ASGI application: create_app() wires routes, errors, the process's resources and,
where this process runs them, its background services."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from starlette.types import ASGIApp

from campaign_dispatch.api import (
    campaigns,
    customers,
    dispatch,
    docs,
    errors,
    health,
    ops,
    templates,
)
from campaign_dispatch.api.limits import RequestLimits
from campaign_dispatch.api.rate_limit import SendRateLimit
from campaign_dispatch.api.request_context import RequestContext
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
        # X-Request-ID too, and the error's log line the request id.
        return RequestContext(super().build_middleware_stack())


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
    for module in (campaigns, dispatch, customers, templates):
        app.include_router(module.router, dependencies=protected, responses=api_errors)
    for module in (health, ops):
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
    return app
