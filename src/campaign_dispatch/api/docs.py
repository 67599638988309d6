"""Interactive API docs at /docs, with Swagger UI's files served by this process.

FastAPI's default page loads Swagger UI from a CDN, which leaves it blank on a machine
without internet. The dashboard build copies the files from npm's swagger-ui-dist into
`web/dist/swagger/`; they are served at /swagger.
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

SWAGGER_PREFIX = "/swagger"


def install(app: FastAPI, dist: Path) -> None:
    app.mount(
        SWAGGER_PREFIX,
        StaticFiles(directory=dist / "swagger", check_dir=False),
        name="swagger",
    )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{SWAGGER_PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_PREFIX}/favicon-32x32.png",
            # No "valid" badge: it is an image fetched from validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )
