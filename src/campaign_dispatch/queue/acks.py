"""Coalesced acknowledgements: one `basic.ack(multiple=True)` for many settled deliveries.

AMQP delivery tags are per channel, start at 1 and grow by one per delivery. A multiple
ack for tag N settles every unacknowledged delivery up to N, so it may only be sent once
every delivery up to N is finished. The tracker keeps that invariant: it advances a
watermark over the contiguous run of settled tags and never past a tag still in flight
(its batch not yet committed), whatever order batches finish in.

The watermark alone would let one slow delivery stall the consumer: every delivery
settled after it stays unacknowledged, and once they fill the prefetch window the broker
sends nothing more until the slow one finishes (a provider call hanging until its
timeout would stop every other lane). So when more than `stuck_limit` settled deliveries
wait behind an unsettled one, the coalescer acknowledges them one by one
(`multiple=False`) and the window opens again; normal out-of-order completion stays
below the limit and keeps its single multiple-ack frames.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)

SendAck = Callable[[int, bool], Awaitable[None]]
"""Sends `basic.ack(delivery_tag=n, multiple=...)`."""


class AckTracker:
    """Which delivery tags of one channel are settled, and up to where an ack may go.

    `settle(tag, acked)` records a delivery as finished: acked (to be covered by a later
    multiple ack) or already settled on its own (a single nack/requeue was sent for it).
    `ackable()` is the highest acked tag below which every tag is settled and that has
    not been acknowledged yet, or None.
    """

    def __init__(self, first_tag: int = 1) -> None:
        self._floor = first_tag - 1  # every tag <= floor is settled
        self._settled: dict[int, bool] = {}  # tag > floor -> acked?
        self._ackable: int | None = None  # highest acked tag <= floor, not yet sent
        self.acked_through = first_tag - 1  # highest tag covered by an ack already sent
        self._stuck = 0  # acked tags in _settled (above the floor)

    def settle(self, tag: int, acked: bool) -> None:
        if tag <= self._floor or tag in self._settled:
            return  # settled twice: the first one counts
        self._settled[tag] = acked
        self._stuck += acked
        while (self._floor + 1) in self._settled:
            self._floor += 1
            if self._settled.pop(self._floor):
                self._stuck -= 1
                self._ackable = self._floor

    def ackable(self) -> int | None:
        return self._ackable

    def stuck(self) -> list[int]:
        """Acked tags waiting for an earlier unsettled one (not coverable by a multiple ack)."""
        return [tag for tag, acked in self._settled.items() if acked]

    @property
    def stuck_count(self) -> int:
        return self._stuck

    def sent_one(self, tag: int) -> None:
        """`tag` was acknowledged on its own: a later multiple ack must not need it."""
        if self._settled.get(tag):
            self._settled[tag] = False
            self._stuck -= 1

    def sent(self, tag: int) -> None:
        """An ack covering `tag` (multiple) was handed to the connection."""
        self.acked_through = max(self.acked_through, tag)
        if self._ackable is not None and self._ackable <= tag:
            self._ackable = None

    @property
    def unsettled_above_floor(self) -> int:
        """Settled tags waiting for an earlier one (diagnostics and tests)."""
        return len(self._settled)


class AckCoalescer:
    """An AckTracker that flushes by itself, once per event-loop turn.

    `ack(tag)` records the settlement and schedules a flush; every ack recorded before
    the flush runs goes out in that one frame. `drain()` waits for pending flushes
    (call it before closing the channel, e.g. on SIGTERM). More than `stuck_limit`
    acked deliveries behind an unsettled one are acknowledged individually.
    """

    def __init__(self, send_ack: SendAck, first_tag: int = 1, stuck_limit: int = 64) -> None:
        self._send_ack = send_ack
        self.tracker = AckTracker(first_tag)
        self.stuck_limit = max(1, stuck_limit)
        self._flush_task: asyncio.Task[None] | None = None
        self.frames_sent = 0

    def ack(self, tag: int) -> None:
        self.tracker.settle(tag, acked=True)
        self._schedule()

    def settled_elsewhere(self, tag: int) -> None:
        """The delivery was nacked/requeued individually; it no longer blocks the watermark."""
        self.tracker.settle(tag, acked=False)
        self._schedule()

    def _schedule(self) -> None:
        if self.tracker.ackable() is None and not self._too_many_stuck():
            return
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = asyncio.get_running_loop().create_task(self._flush())

    def _too_many_stuck(self) -> bool:
        return self.tracker.stuck_count > self.stuck_limit

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the rest of the batch settle first
        while True:
            if (tag := self.tracker.ackable()) is not None:
                self.tracker.sent(tag)
                frames = [(tag, True)]
            elif self._too_many_stuck():
                frames = [(tag, False) for tag in self.tracker.stuck()]
                for tag, _ in frames:
                    self.tracker.sent_one(tag)
                log.debug("acking deliveries one by one behind a slow one", count=len(frames))
            else:
                return
            for tag, multiple in frames:
                try:
                    await self._send_ack(tag, multiple)
                    self.frames_sent += 1
                except Exception as exc:
                    # The channel is gone: the broker requeues everything unacknowledged
                    # and the worker ignores the redeliveries of messages already final.
                    log.warning("ack not sent; the broker will redeliver", tag=tag, error=str(exc))
                    return

    @property
    def busy(self) -> bool:
        return self._flush_task is not None and not self._flush_task.done()

    async def drain(self) -> None:
        task = self._flush_task
        if task is not None and not task.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(task)
