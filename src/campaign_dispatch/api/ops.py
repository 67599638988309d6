"""Operations: Prometheus metrics and today's delivery stats."""

import asyncio
import datetime as dt

import structlog
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field

from campaign_dispatch import metrics
from campaign_dispatch.api.deps import SessionDep
from campaign_dispatch.clock import utcnow
from campaign_dispatch.repositories import pipeline
from campaign_dispatch.repositories import stats as stats_repo

router = APIRouter(tags=["operations"])
log = structlog.get_logger(__name__)

SCRAPE_TIMEOUT_SECONDS = 5.0


class Stats(BaseModel):
    date: dt.date = Field(description="Today (UTC), the day the counts cover")
    campaigns_sent_today: int = Field(description="Campaigns that became `sent` today")
    messages_sent_today: int
    messages_failed_today: int = Field(description="Messages that failed for good today")
    failure_rate: float = Field(description="failed / (sent + failed) today; 0.0 when neither")
    messages_pending: int = Field(description="Messages waiting to be sent (queued or retrying)")


@router.get("/stats", response_model=Stats)
async def stats(session: SessionDep) -> Stats:
    """Today's (UTC) campaigns sent, messages sent and failed, and the pending backlog."""
    today = utcnow().date()
    async with session.begin():
        totals = await stats_repo.day_totals(session, today)
    finished = totals.messages_sent + totals.messages_failed
    return Stats(
        date=today,
        campaigns_sent_today=totals.campaigns_sent,
        messages_sent_today=totals.messages_sent,
        messages_failed_today=totals.messages_failed,
        failure_rate=round(totals.messages_failed / finished, 4) if finished else 0.0,
        messages_pending=totals.messages_pending,
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def prometheus_metrics(session: SessionDep) -> Response:
    """This process's counters plus gauges read from the database now; still answers (with
    `campaign_database_up 0`) when the database is down."""
    try:
        async with asyncio.timeout(SCRAPE_TIMEOUT_SECONDS), session.begin():
            snapshot: metrics.DatabaseSnapshot | None = metrics.DatabaseSnapshot(
                outbox_backlog=await pipeline.outbox_backlog(session),
                campaigns_by_status=await stats_repo.campaigns_by_status(session),
            )
    except Exception as exc:  # a scrape must not fail with the database
        log.warning("metrics: database unreadable", error=repr(exc))
        snapshot = None
    return Response(metrics.exposition(snapshot), media_type=CONTENT_TYPE_LATEST)
