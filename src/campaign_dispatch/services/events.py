"""A campaign's progress as a stream of details, for `GET /campaigns/{id}/events`.

The database is the source: another API process, a worker or the scheduler may be the
one that changes a campaign, and none of them can notify this process, so the stream
polls `services.campaigns.detail` (counters, not message rows). Within one process every
client of a campaign shares one poller: the hub starts it with the first subscriber and
cancels it with the last, so N clients cost one query per interval, not N. Each poll
takes its own session and gives it back, so no connection is held between polls.
"""

import asyncio
import functools
import time
from collections.abc import AsyncGenerator
from typing import Final

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campaign_dispatch.errors import CampaignNotFound, DatabaseUnreachable
from campaign_dispatch.schemas.campaign import CampaignDetail
from campaign_dispatch.services import campaigns
from campaign_dispatch.statuses import DONE

log = structlog.get_logger(__name__)

POLL_INTERVAL_S: Final = 0.5
"""How often a campaign's detail is read, and the least time between two events."""

MAX_RETRY_DELAY_S: Final = 10.0
"""A poll that failed (the database is away) is tried again after a growing delay, up to this."""


class _Subscription:
    """One client's view of a channel: only the newest detail, so a client that reads
    slowly skips to the latest state instead of queueing every one it missed."""

    def __init__(self, channel: "_Channel") -> None:
        self.channel = channel
        # Unset: the subscriber starts from the channel's latest, taken as it subscribed.
        self._changed = asyncio.Event()

    def notify(self) -> None:
        self._changed.set()

    async def next(self) -> CampaignDetail | None:
        """The channel's newest detail once it has published since the last call; None
        once the channel has closed (the campaign is gone, or its poller failed)."""
        await self._changed.wait()
        self._changed.clear()
        return None if self.channel.closed else self.channel.latest


class _Channel:
    """One campaign's poller and the subscriptions it feeds."""

    def __init__(self, campaign_id: int, latest: CampaignDetail) -> None:
        self.campaign_id = campaign_id
        self.subscriptions: set[_Subscription] = set()
        self.latest = latest
        self.closed = False
        self.task: asyncio.Task[None] | None = None

    def publish(self, detail: CampaignDetail) -> None:
        self.latest = detail
        for subscription in self.subscriptions:
            subscription.notify()

    def close(self) -> None:
        self.closed = True
        for subscription in self.subscriptions:
            subscription.notify()


class ProgressHub:
    """This process's campaign pollers, one per campaign that has a subscriber."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        interval: float = POLL_INTERVAL_S,
    ) -> None:
        self.sessions = sessions
        self.interval = interval
        self._channels: dict[int, _Channel] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.polls = 0  # details read by the pollers, for the tests and a debugger

    def subscribers(self) -> dict[int, int]:
        """How many subscribers each watched campaign has."""
        return {cid: len(channel.subscriptions) for cid, channel in self._channels.items()}

    def running_pollers(self) -> int:
        """Poller tasks that have not finished (a cancelled one finishes at its next await)."""
        return sum(not task.done() for task in self._tasks)

    async def stream(
        self, campaign_id: int, first: CampaignDetail
    ) -> AsyncGenerator[CampaignDetail]:
        """The campaign's detail now, then each changed one, at most one per interval,
        until the campaign is done (its final detail is the last) or gone.

        `first` is the caller's own fresh read (which also told it the campaign exists):
        it is the first event unless this campaign's poller is already running. Then the
        poller's newest detail is, so that every event comes from one source and none
        goes back in time. Leaving the iteration early (the client disconnected)
        unsubscribes; the last subscriber's leaving stops the poller.
        """
        if first.status in DONE:
            yield first
            return
        subscription = self._subscribe(campaign_id, first)
        try:
            detail = subscription.channel.latest
            while True:
                yield detail
                last, sent_at = detail, time.monotonic()
                if detail.status in DONE:
                    return
                while (latest := await subscription.next()) == last:
                    pass
                if latest is None:
                    return
                # Changes within an interval of the last event make one event: the newest.
                await asyncio.sleep(max(0.0, sent_at + self.interval - time.monotonic()))
                if subscription.channel.closed:
                    return
                detail = subscription.channel.latest
        finally:
            # Synchronous on purpose: this runs while the client's request is being
            # cancelled, where an await would be cancelled in turn.
            self._unsubscribe(subscription)

    def _subscribe(self, campaign_id: int, first: CampaignDetail) -> _Subscription:
        channel = self._channels.get(campaign_id)
        if channel is None or channel.task is None or channel.task.done():
            # A finished poller's last detail may be stale by now (retry-failed reopens a
            # sent campaign): a new subscriber gets a new poller. Subscribers of the old
            # channel still hold it and end with what it gave them.
            channel = _Channel(campaign_id, first)
            self._channels[campaign_id] = channel
            channel.task = asyncio.create_task(
                self._poll(channel), name=f"campaign-progress-{campaign_id}"
            )
            self._tasks.add(channel.task)
            channel.task.add_done_callback(functools.partial(self._poller_done, channel))
        subscription = _Subscription(channel)
        channel.subscriptions.add(subscription)
        return subscription

    def _unsubscribe(self, subscription: _Subscription) -> None:
        channel = subscription.channel
        channel.subscriptions.discard(subscription)
        if channel.subscriptions:
            return
        if self._channels.get(channel.campaign_id) is channel:
            del self._channels[channel.campaign_id]
        if channel.task is not None and not channel.task.done():
            channel.task.cancel()

    def _poller_done(self, channel: _Channel, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        if (error := task.exception()) is not None:
            log.error(
                "campaign progress poller failed", campaign_id=channel.campaign_id, exc_info=error
            )
            # Its subscribers end their streams rather than wait for what never comes.
            channel.close()

    async def _poll(self, channel: _Channel) -> None:
        failures = 0
        while True:
            # The first read is the subscriber's own, just made: the first poll waits too.
            await asyncio.sleep(self.interval)
            try:
                async with self.sessions() as session:
                    detail = await campaigns.detail(session, channel.campaign_id)
            except CampaignNotFound:
                channel.close()  # deleted while watched (a draft or scheduled campaign)
                return
            except (SQLAlchemyError, DatabaseUnreachable, OSError) as exc:
                # The stream stays open across a database outage and resumes after it.
                failures += 1
                delay = min(self.interval * 2**failures, MAX_RETRY_DELAY_S)
                log.warning(
                    "campaign progress poll failed",
                    campaign_id=channel.campaign_id,
                    retry_in_s=delay,
                    error=repr(exc)[:300],
                )
                await asyncio.sleep(delay - self.interval)
                continue
            failures = 0
            self.polls += 1
            if detail != channel.latest:
                channel.publish(detail)
            if detail.status in DONE:
                return
