"""Serves the built dashboard in every mode, beside the API on the same paths.

A browser navigating to `/campaigns/3` asks for HTML and gets the dashboard's index.html
(its client router takes over); `fetch('/campaigns/3')` asks for JSON and gets the API.
Built assets live under `/assets`; the few files at the root of `dist` are served as is.
"""

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import FileResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from campaign_dispatch.api.errors import http_error_response

# Operator endpoints answer JSON even to a browser: the dashboard has no page for them.
_NOT_DASHBOARD = (
    "/docs",
    "/redoc",
    "/openapi.json",
    "/metrics",
    "/assets/",
    "/health",
    "/ready",
    "/stats",
)


class Dashboard:
    def __init__(self, app: ASGIApp, dist: Path) -> None:
        self.app = app
        self.dist = dist.resolve()
        self.index = self.dist / "index.html"
        self.root_files = {p.name for p in self.dist.iterdir() if p.is_file()}
        self.assets = StaticFiles(directory=self.dist / "assets", check_dir=False)

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
                await http_error_response(exc)(scope, receive, send)
            return
        name = path.lstrip("/")
        if name in self.root_files and name != "index.html":
            await FileResponse(self.dist / name)(scope, receive, send)
            return
        if self._is_navigation(scope, path):
            await FileResponse(self.index, headers={"Cache-Control": "no-cache"})(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _is_navigation(scope: Scope, path: str) -> bool:
        if path.startswith(_NOT_DASHBOARD):
            return False
        accept = next((v for k, v in scope["headers"] if k == b"accept"), b"")
        return b"text/html" in accept


def dashboard_available(dist: Path) -> bool:
    return (dist / "index.html").is_file()
