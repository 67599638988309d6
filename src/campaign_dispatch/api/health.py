import asyncio
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from campaign_dispatch.api.deps import RuntimeDep

router = APIRouter(tags=["operations"])
READY_TIMEOUT_SECONDS = 3.0


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str]


@router.get("/health", response_model=Health)
async def health() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
async def ready(runtime: RuntimeDep) -> JSONResponse:
    """Readiness: the database and the queue are reachable."""
    checks = {"database": "ok", "queue": "ok"}
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            async with runtime.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means not ready; the reason is reported
        checks["database"] = f"unavailable: {type(exc).__name__}"
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            queue_ok = await runtime.queue_ready()
    except TimeoutError:
        queue_ok = False
    if not queue_ok:
        checks["queue"] = "unavailable"
    ok = all(v == "ok" for v in checks.values())
    body = Readiness(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
