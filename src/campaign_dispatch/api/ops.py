"""Operations: Prometheus metrics and today's delivery stats."""

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from campaign_dispatch.api.deps import ResourcesDep, SessionDep
from campaign_dispatch.api.errors import error_responses
from campaign_dispatch.schemas.ops import Stats
from campaign_dispatch.services import ops

router = APIRouter(tags=["operations"])


@router.get("/stats", response_model=Stats, responses=error_responses(503))
async def stats(session: SessionDep) -> Stats:
    """Today's (UTC) campaigns sent, messages sent and failed, and the pending backlog."""
    return await ops.day_stats(session)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def prometheus_metrics(resources: ResourcesDep) -> Response:
    """This process's counters plus gauges read from the database now; still answers (with
    `campaign_database_up 0`) when the database is down."""
    body = await ops.metrics_exposition(resources.database, resources.repositories.outbox)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
