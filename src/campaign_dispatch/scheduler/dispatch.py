"""Scheduled dispatch: releases each due campaign exactly once, however many schedulers run.

A due campaign is locked with SKIP LOCKED (PostgreSQL) and moved scheduled → sending by a
conditional update in the same transaction that creates its messages, so a second
scheduler either skips the locked row or finds it no longer `scheduled`. A crash
mid-release rolls the whole transaction back; the next pass releases it again.

Between passes the scheduler sleeps until the next campaign is due (one indexed read,
repositories/wakeups.py), a wake (a schedule change's NOTIFY on PostgreSQL, heard by
background/listener.py, or the in-process signal), or at most `idle_seconds`. A campaign
due but not released (another scheduler holds it, or its release failed) is looked at
again after `interval`, as every campaign was before.
"""

import asyncio
from collections.abc import Callable, Collection

import structlog

from campaign_dispatch.clock import utcnow
from campaign_dispatch.db import Database
from campaign_dispatch.repositories import wakeups
from campaign_dispatch.repositories.outbox import OutboxRepository
from campaign_dispatch.scheduler.periodic import Wake, wait_until
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
        idle_seconds: float | None = None,
    ) -> None:
        self.database = database
        self.outbox = outbox
        self.interval = interval
        self.on_release = on_release
        # The longest sleep with nothing due (None: `interval`, polling as before).
        self.idle_seconds = interval if idle_seconds is None else max(idle_seconds, interval)
        self._wake = Wake()

    def wake(self) -> None:
        """Read the next due time now (called when a campaign is scheduled or changed)."""
        self._wake.set()

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

    async def next_delay(self) -> float:
        """Seconds to sleep after a pass: until the next campaign is due, at most
        `idle_seconds`; `interval` for one due now that this pass did not release."""
        if self.idle_seconds <= self.interval:
            return self.interval
        async with self.database.sessions.begin() as session:
            due_in = await wakeups.next_scheduled(session, utcnow())
        if due_in is None:
            return self.idle_seconds
        if due_in <= 0:
            return self.interval
        return min(self.idle_seconds, due_in + 0.01)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()  # before the pass: a change committed during it is kept
            try:
                await self.release_due()
                delay = await self.next_delay()
            except Exception:
                log.exception("scheduler pass failed")
                delay = self.interval
            await wait_until(delay, stop, self._wake)
