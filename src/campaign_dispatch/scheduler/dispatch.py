"""Scheduled dispatch: releases each due campaign exactly once, however many schedulers run.

A due campaign is locked with SKIP LOCKED (PostgreSQL) and moved scheduled → sending by a
conditional update in the same transaction that creates its messages, so a second
scheduler either skips the locked row or finds it no longer `scheduled`. A crash
mid-release rolls the whole transaction back; the next pass releases it again.
"""

import asyncio
from collections.abc import Callable, Collection

import structlog

from campaign_dispatch.db import Database
from campaign_dispatch.repositories.outbox import OutboxRepository
from campaign_dispatch.scheduler.periodic import run_every
from campaign_dispatch.services import dispatch

log = structlog.get_logger(__name__)


class ReleaseFailed(Exception):
    def __init__(self, campaign_id: int) -> None:
        super().__init__(f"releasing campaign {campaign_id} failed")
        self.campaign_id = campaign_id


class Scheduler:
    def __init__(
        self,
        database: Database,
        outbox: OutboxRepository,
        interval: float = 1.0,
        on_release: Callable[[], None] | None = None,
    ) -> None:
        self.database = database
        self.outbox = outbox
        self.interval = interval
        self.on_release = on_release

    async def release_one(self, skip: Collection[int] = ()) -> tuple[int, int | None] | None:
        """Release the most overdue campaign not in `skip`.

        Returns (campaign id, messages created; None if another scheduler won it), or None
        when nothing is due. ReleaseFailed names a campaign whose release was rolled back.
        """
        async with self.database.sessions.begin() as session:
            campaign_id = await dispatch.next_due(session, skip)
            if campaign_id is None:
                return None
            try:
                queued = await dispatch.release_scheduled(session, self.outbox, campaign_id)
            except Exception as exc:
                raise ReleaseFailed(campaign_id) from exc
        if queued is not None:
            log.info("scheduled campaign released", campaign_id=campaign_id, messages=queued)
            if self.on_release:
                self.on_release()
        return campaign_id, queued

    async def release_due(self) -> list[int]:
        """Release every due campaign; the ids this scheduler released.

        A campaign whose release fails is logged and left `scheduled` for the next pass,
        so it cannot hold up the campaigns due after it.
        """
        released: list[int] = []
        failed: set[int] = set()
        while True:
            try:
                result = await self.release_one(failed)
            except ReleaseFailed as exc:
                log.exception("scheduled release failed", campaign_id=exc.campaign_id)
                failed.add(exc.campaign_id)
                continue
            if result is None:
                return released
            campaign_id, queued = result
            if queued is not None:
                released.append(campaign_id)

    async def run(self, stop: asyncio.Event) -> None:
        await run_every(self.interval, stop, self.release_due, "scheduler pass")
