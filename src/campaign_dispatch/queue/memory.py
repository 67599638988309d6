"""The embedded mode's queue: asyncio only, nothing durable.

Losing its contents is safe because the database is the source of truth: on start the
relay republishes every unfinished message (see Runtime._recover_embedded).
"""

import asyncio
import collections
from collections.abc import Sequence
from dataclasses import dataclass, field

from campaign_dispatch.queue.base import DeliveryCallback, Job


@dataclass
class MemoryDelivery:
    body: bytes
    _queue: "InProcessQueue"
    _done: bool = False

    async def ack(self) -> None:
        self._finish()

    async def release(self) -> None:
        if not self._done:
            self._queue.put(self.body, front=True)
        self._finish()

    def _finish(self) -> None:
        if not self._done:
            self._done = True
            self._queue.unacked -= 1
            self._queue.in_flight.release()


@dataclass
class InProcessQueue:
    dead_letters: collections.deque[tuple[bytes, str]] = field(
        default_factory=lambda: collections.deque(maxlen=10_000)
    )

    def __post_init__(self) -> None:
        self._items: collections.deque[bytes] = collections.deque()
        self._available = asyncio.Event()
        self._timers: set[asyncio.TimerHandle] = set()
        self._consumer: asyncio.Task[None] | None = None
        self.in_flight = asyncio.Semaphore(1)
        self.unacked = 0

    async def connect(self) -> None:
        return None

    async def unavailable_reason(self) -> str | None:
        return None

    async def waiting(self) -> int:
        return len(self._items)

    async def close(self) -> None:
        await self.stop_consuming()
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    def put(self, body: bytes, front: bool = False) -> None:
        if front:
            self._items.appendleft(body)
        else:
            self._items.append(body)
        self._available.set()

    async def publish(self, jobs: Sequence[Job]) -> None:
        for job in jobs:
            self.put(job.encode())

    async def publish_retry(self, job: Job, delay_seconds: float) -> None:
        loop = asyncio.get_running_loop()
        body = job.encode()

        def fire() -> None:
            self._timers.discard(timer)
            self.put(body)

        timer = loop.call_later(delay_seconds, fire)
        self._timers.add(timer)

    async def dead_letter(self, body: bytes, reason: str) -> None:
        self.dead_letters.append((body, reason))

    async def start_consuming(self, on_delivery: DeliveryCallback, prefetch: int) -> None:
        self.in_flight = asyncio.Semaphore(prefetch)
        self._consumer = asyncio.create_task(self._consume(on_delivery), name="memory-consumer")

    async def stop_consuming(self) -> None:
        if self._consumer is not None:
            self._consumer.cancel()
            await asyncio.gather(self._consumer, return_exceptions=True)
            self._consumer = None

    async def _consume(self, on_delivery: DeliveryCallback) -> None:
        while True:
            await self.in_flight.acquire()
            while not self._items:
                self._available.clear()
                await self._available.wait()
            self.unacked += 1
            on_delivery(MemoryDelivery(self._items.popleft(), self))

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing delivered but unacknowledged."""
        return not self._items and self.unacked == 0

    def __len__(self) -> int:
        return len(self._items)
