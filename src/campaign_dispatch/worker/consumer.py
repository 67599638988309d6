"""The worker loop: bounded concurrency over batches, and a clean drain on shutdown."""

import asyncio
import contextlib

import structlog

from campaign_dispatch.queue import Delivery, JobQueue
from campaign_dispatch.worker.processor import BatchProcessor

log = structlog.get_logger(__name__)

_STOP = None

# How long a lane may wait for its batch to fill while deliveries are still arriving.
FILL_SECONDS = 0.004


class Worker:
    def __init__(
        self, queue: JobQueue, processor: BatchProcessor, concurrency: int, batch_size: int
    ):
        self.queue = queue
        self.processor = processor
        self.batch_size = max(1, min(batch_size, concurrency))
        self.lanes = max(1, -(-concurrency // self.batch_size))
        self.prefetch = self.lanes * self.batch_size + self.batch_size
        self._inbox: asyncio.Queue[Delivery | None] = asyncio.Queue()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set, then finish what was fetched and return.

        The lanes run in a task group: a lane that dies takes the worker down with it
        (and the supervisor the process), rather than leave it consuming at reduced width.
        """
        await self._start_consuming(stop)
        async with asyncio.TaskGroup() as lanes:
            for i in range(self.lanes):
                lanes.create_task(self._lane(), name=f"worker-lane-{i}")
            log.info(
                "worker started",
                lanes=self.lanes,
                batch_size=self.batch_size,
                prefetch=self.prefetch,
            )
            await stop.wait()
            with contextlib.suppress(Exception):
                await self.queue.stop_consuming()
            for _ in range(self.lanes):
                self._inbox.put_nowait(_STOP)
        log.info("worker stopped")

    async def _start_consuming(self, stop: asyncio.Event) -> None:
        delay = 0.5
        while not stop.is_set():
            try:
                await self.queue.start_consuming(self._inbox.put_nowait, self.prefetch)
                return
            except Exception as exc:
                log.warning("queue not available to consume; retrying", error=str(exc), in_s=delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, 10)

    async def _lane(self) -> None:
        pause = 0.5
        while True:
            first = await self._inbox.get()
            if first is _STOP:
                await self._complete_finished()
                return
            batch = [first]
            stopping = self._fill(batch) or await self._top_up(batch)
            try:
                await self.processor.process(batch)
                pause = 0.5
                if not stopping and self._inbox.empty():
                    await self._complete_finished()
            except asyncio.CancelledError:
                # Past the shutdown deadline: hand back what was not acknowledged.
                for delivery in batch:
                    with contextlib.suppress(Exception):
                        await delivery.release()
                raise
            except Exception:
                # The database (most likely) is failing: hand the batch back and pause
                # this lane instead of spinning; leases recover anything half-done.
                log.exception(
                    "batch failed; released for redelivery", size=len(batch), pause_s=pause
                )
                for delivery in batch:
                    with contextlib.suppress(Exception):
                        await delivery.release()
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30)
            if stopping:
                await self._complete_finished()
                return

    async def _top_up(self, batch: list[Delivery]) -> bool:
        """While the batch is short, wait for more deliveries, up to FILL_SECONDS from
        the first: a socket read brings a few hundred of a campaign's thousands, and a
        claim and an outcome write cost the database about the same per statement
        whatever their size. A lone job waits that long at most. True if a stop marker
        came."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FILL_SECONDS
        while len(batch) < self.batch_size and loop.time() < deadline:
            await asyncio.sleep(0.001)
            if self._fill(batch):
                return True
        return False

    def _fill(self, batch: list[Delivery]) -> bool:
        """Top `batch` up from the inbox without waiting; True if a stop marker came."""
        while len(batch) < self.batch_size and not self._inbox.empty():
            item = self._inbox.get_nowait()
            if item is _STOP:
                return True
            batch.append(item)
        return False

    async def _complete_finished(self) -> None:
        try:
            await self.processor.complete_finished(now=True)
        except Exception:
            log.exception("campaign completion check failed; the recovery sweep will retry")
