"""Serves the built dashboard in every mode, beside the API on the same paths.

A browser navigating to `/campaigns/3` asks for HTML and gets the dashboard's index.html
(its client router takes over); `fetch('/campaigns/3')` asks for JSON and gets the API.
Which paths are dashboard pages is read from the app's own routes: only the resources the
dashboard has pages for (DASHBOARD_TAGS) are shared; every other route of the app — a
new one included — answers as the API even to a browser.
Built assets live under `/assets`; the few files at the root of `dist` are served as is.
"""

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse
from starlette.routing import BaseRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from campaign_dispatch.api.errors import error_response, routing_error

DASHBOARD_TAGS = frozenset({"campaigns", "customers"})
"""The API resources the dashboard mirrors with pages at the same paths."""


def api_only_paths(routes: Sequence[BaseRoute]) -> list[re.Pattern[str]]:
    """The path patterns of every route (mounts included) not shared with the dashboard."""
    patterns = []
    for route in iter_route_contexts(routes):
        if DASHBOARD_TAGS.intersection(getattr(route, "tags", None) or ()):
            continue
        pattern = getattr(route, "path_regex", None)
        if pattern is not None:
            patterns.append(pattern)
    return patterns


class Dashboard:
    def __init__(self, app: ASGIApp, dist: Path, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self.app = app
        self.dist = dist.resolve()
        self.index = self.dist / "index.html"
        self.root_files = {p.name for p in self.dist.iterdir() if p.is_file()}
        self.assets = StaticFiles(directory=self.dist / "assets", check_dir=False)
        self._routes = routes
        self._api_only: list[re.Pattern[str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/assets/"):
            # Outside the app's exception handling: a missing asset must not become a 500.
            try:
                await self.assets(
                    {**scope, "root_path": "", "path": path.removeprefix("/assets")}, receive, send
                )
            except HTTPException as exc:
                await error_response(routing_error(exc))(scope, receive, send)
            return
        name = path.lstrip("/")
        if name in self.root_files and name != "index.html":
            await FileResponse(self.dist / name)(scope, receive, send)
            return
        if self._is_navigation(scope):
            await FileResponse(self.index, headers={"Cache-Control": "no-cache"})(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)

    def _is_navigation(self, scope: Scope) -> bool:
        accept = next((v for k, v in scope["headers"] if k == b"accept"), b"")
        if b"text/html" not in accept:
            return False
        if self._api_only is None:  # the app's routes are complete once it serves
            self._api_only = api_only_paths(self._routes())
        path: str = scope["path"]
        return not any(pattern.match(path) for pattern in self._api_only)


def dashboard_available(dist: Path) -> bool:
    return (dist / "index.html").is_file()
