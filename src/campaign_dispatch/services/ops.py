"""Operations: readiness, today's delivery stats, and the database gauges for /metrics."""

import asyncio

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch import metrics
from campaign_dispatch.clock import utcnow
from campaign_dispatch.db import Database
from campaign_dispatch.queue import JobQueue
from campaign_dispatch.repositories import stats as stats_repo
from campaign_dispatch.repositories.outbox import OutboxRepository
from campaign_dispatch.schemas.ops import Readiness, Stats

log = structlog.get_logger(__name__)

READY_TIMEOUT_SECONDS = 3.0
SCRAPE_TIMEOUT_SECONDS = 5.0


async def readiness(database: Database, queue: JobQueue) -> Readiness:
    checks = {"database": "ok", "queue": "ok"}
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            await database.ping()
    except Exception as exc:  # any failure means not ready; the reason is reported
        checks["database"] = f"unavailable: {type(exc).__name__}"
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            reason = await queue.unavailable_reason()
    except TimeoutError:
        reason = "no answer"
    if reason is not None:
        checks["queue"] = f"unavailable: {reason}"
    ok = all(v == "ok" for v in checks.values())
    return Readiness(status="ok" if ok else "unavailable", checks=checks)


async def day_stats(session: AsyncSession) -> Stats:
    today = utcnow().date()
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


async def metrics_exposition(database: Database, outbox: OutboxRepository) -> bytes:
    """This process's counters plus gauges read from the database now; still answers
    (with `campaign_database_up 0`) when the database is down."""
    try:
        async with asyncio.timeout(SCRAPE_TIMEOUT_SECONDS), database.sessions.begin() as session:
            snapshot: metrics.DatabaseSnapshot | None = metrics.DatabaseSnapshot(
                outbox_backlog=await outbox.backlog(session),
                campaigns_by_status=await stats_repo.campaigns_by_status(session),
            )
    except Exception as exc:  # a scrape must not fail with the database
        log.warning("metrics: database unreadable", error=repr(exc))
        snapshot = None
    return metrics.exposition(snapshot)
