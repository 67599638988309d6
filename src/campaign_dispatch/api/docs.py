"""Interactive API docs at /docs, with Swagger UI's files served by this process.

FastAPI's default page loads Swagger UI from a CDN, which leaves it blank on a machine
without internet. The dashboard build copies the files from npm's swagger-ui-dist into
`web/dist/swagger/`; they are served at /swagger.

The page starts Swagger UI with an inline script, which the app's Content-Security-Policy
forbids, so the page carries a policy of its own: the same, plus that one script by its
hash (computed from the page itself, so a change of FastAPI's page cannot slip past it).
"""

import base64
import hashlib
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from campaign_dispatch.api.headers import CONTENT_SECURITY_POLICY

SWAGGER_PREFIX = "/swagger"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def inline_script_hashes(html: str) -> list[str]:
    """CSP sources for the inline scripts of `html`: `'sha256-…'` of each one's text."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


def docs_policy(html: str) -> str:
    scripts = " ".join(["'self'", *inline_script_hashes(html)])
    return f"{CONTENT_SECURITY_POLICY}; script-src {scripts}"


def install(app: FastAPI, dist: Path) -> None:
    app.mount(
        SWAGGER_PREFIX,
        StaticFiles(directory=dist / "swagger", check_dir=False),
        name="swagger",
    )
    page = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title=f"{app.title} API",
        swagger_js_url=f"{SWAGGER_PREFIX}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_PREFIX}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_PREFIX}/favicon-32x32.png",
        # No "valid" badge: it is an image fetched from validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )
    html = bytes(page.body).decode()
    headers = {"Content-Security-Policy": docs_policy(html)}

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(html, headers=headers)
