from fastapi import APIRouter
from fastapi.responses import JSONResponse

from campaign_dispatch.api.deps import ResourcesDep
from campaign_dispatch.schemas.ops import Health, Readiness
from campaign_dispatch.services import ops

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Health)
async def health() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
async def ready(resources: ResourcesDep) -> JSONResponse:
    """Readiness: the database and the queue are reachable."""
    body = await ops.readiness(resources.database, resources.queue)
    return JSONResponse(body.model_dump(), status_code=200 if body.status == "ok" else 503)
